/**
 * Upstream header values come from SecretRefs ({env} or {file}), resolved when routes are set, never per
 * request. Values never appear in errors or logs; only the reference (variable name or file path) does.
 */
import { readFileSync } from 'node:fs'
import type { SecretRef } from '../offer/schema.ts'
import { BaseError } from '../errors/base.ts'

export class UpstreamSecretError extends BaseError {
  override name = 'UpstreamSecretError'
}

/** Resolve every upstream header to [lowercased name, value]. Throws UpstreamSecretError naming the missing reference. */
export function resolveSecretHeaders(headers: Record<string, SecretRef> | undefined, env: NodeJS.ProcessEnv = process.env): [string, string][] {
  const out: [string, string][] = []
  for (const [name, ref] of Object.entries(headers ?? {})) {
    let value: string | undefined
    if ('env' in ref) {
      value = env[ref.env]
      if (value === undefined || value === '') {
        throw new UpstreamSecretError(`Upstream header ${name} needs environment variable ${ref.env}, which is not set.`, {
          hint: `Set ${ref.env} in the environment of the vend daemon and restart it.`,
        })
      }
    } else {
      try {
        value = readFileSync(ref.file, 'utf8').trim()
      } catch (err) {
        throw new UpstreamSecretError(`Upstream header ${name} needs the secret file ${ref.file}, which cannot be read.`, {
          hint: 'Create the file (readable by the vend daemon) or fix the path in the offer.', cause: err,
        })
      }
    }
    if (/[\r\n\0]/.test(value)) {
      throw new UpstreamSecretError(`Upstream header ${name} resolves to a value with a line break.`, {
        hint: 'Store the secret on a single line.',
      })
    }
    out.push([name.toLowerCase(), (ref.prefix ?? '') + value])
  }
  return out
}
