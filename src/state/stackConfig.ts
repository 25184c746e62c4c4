/** stack.yaml: stack-wide settings. Flags given to `stack up` are saved here and kept for the next `up`. */
import { existsSync, readFileSync } from 'node:fs'
import { parseDocument, stringify } from 'yaml'
import { z } from 'zod'
import { BaseError } from '../errors/base.ts'
import { SecretRef } from '../offer/schema.ts'
import { writeFileAtomic } from './atomicWrite.ts'
import type { HomePaths } from './home.ts'

export const DEFAULT_LISTEN = '127.0.0.1:8402'
export const DEFAULT_TESTNET_FACILITATOR = 'https://x402.org/facilitator'

const listen = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, like 127.0.0.1:8402')

export const FacilitatorConfig = z.object({
  /** CAIP-2 network or alias this facilitator serves; "*" for every network. */
  network: z.string().min(1).default('*'),
  /** "local" = the in-process facilitator; otherwise the facilitator's base URL. */
  url: z.string().min(1),
  headers: z.record(z.string(), SecretRef).optional(),
}).strict()

export const StackConfig = z.object({
  listen: listen.default(DEFAULT_LISTEN),
  publicUrl: z.string().url().optional(),
  defaults: z.object({
    chain: z.string().min(1).optional(),
    payTo: z.string().regex(/^0x[0-9a-fA-F]{40}$/).optional(),
    facilitator: z.string().min(1).optional(),
  }).strict().default({}),
  facilitators: z.array(FacilitatorConfig).default([]),
  dev: z.object({
    enabled: z.boolean().default(false),
    chainId: z.number().int().positive().default(31337),
    /** RPC URL of another stack's dev chain to use instead of starting one. */
    join: z.string().url().optional(),
  }).strict().optional(),
  engine: z.enum(['embedded', 'kubernetes']).default('embedded'),
  kubernetes: z.object({ context: z.string().optional(), namespace: z.string().default('vend') }).strict().optional(),
  dashboardToken: z.object({ env: z.string() }).strict().optional(),
}).strict()

export type StackConfig = z.output<typeof StackConfig>

export class StackConfigInvalidError extends BaseError {
  override name = 'StackConfigInvalidError'
}

export function readStackConfig(paths: HomePaths): StackConfig {
  if (!existsSync(paths.stackYaml)) return StackConfig.parse({})
  const text = readFileSync(paths.stackYaml, 'utf8')
  const doc = parseDocument(text)
  if (doc.errors.length) throw new StackConfigInvalidError(`${paths.stackYaml}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`, { hint: 'Fix the file or remove it to start from defaults.' })
  const res = StackConfig.safeParse(doc.toJS() ?? {})
  if (!res.success) {
    const i = res.error.issues[0]!
    throw new StackConfigInvalidError(`${paths.stackYaml}: ${i.path.join('.') || '(document)'}: ${i.message}`, { hint: 'Fix the file or remove it to start from defaults.' })
  }
  return res.data
}

export function writeStackConfig(paths: HomePaths, config: StackConfig): void {
  writeFileAtomic(paths.stackYaml, stringify(JSON.parse(JSON.stringify(config))), 0o600)
}

/** The stack's URL for absolute links: publicUrl, else http://<listen>. */
export function baseUrl(config: StackConfig): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '')
  const [host, port] = splitHostPort(config.listen)
  const h = host === '0.0.0.0' || host === '::' || host === '[::]' ? '127.0.0.1' : host
  return `http://${h}:${port}`
}

export function splitHostPort(listenAddr: string): [string, number] {
  const i = listenAddr.lastIndexOf(':')
  return [listenAddr.slice(0, i).replace(/^\[|\]$/g, ''), Number(listenAddr.slice(i + 1))]
}
