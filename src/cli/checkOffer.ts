/**
 * The gate before any offer file is written by a flag-driven command: schema, resolution (chain, asset,
 * atomic prices) and reserved paths. The first problem becomes one error naming the flag that caused it.
 */
import { InvalidInputError } from '../errors/base.ts'
import { OfferInvalidError, reservedPathReason, resolveOffer, type ResolvedOffer } from '../offer/resolveOffer.ts'
import { ServiceOffer } from '../offer/schema.ts'

/** Offer field (dotted path prefix) -> the flag that sets it, for error messages. */
export type FlagMap = Record<string, string>

export type CheckedOffer = { offer: ServiceOffer; resolved: ResolvedOffer }

/** `command` names the command whose --help explains the flags (e.g. "vend sell http"). */
export function checkOffer(input: unknown, flags: FlagMap = {}, command = 'vend sell'): CheckedOffer {
  const parsed = ServiceOffer.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw invalid(issue.path.map(String), issue.message, input, flags, command)
  }
  let resolved: ResolvedOffer
  try {
    resolved = resolveOffer(parsed.data)
  } catch (err) {
    if (!(err instanceof OfferInvalidError) || !err.problems[0]) throw err
    const p = err.problems[0]
    throw invalid(p.path.map(String), p.message, input, flags, command)
  }
  const reserved = reservedPathReason(resolved.path)
  if (reserved) {
    throw new InvalidInputError(`Invalid ${flags['spec.path'] ?? 'spec.path'} "${resolved.path}": ${reserved}.`, {
      hint: `Use a path of your own, such as /services/${parsed.data.metadata.name}.`,
    })
  }
  return { offer: parsed.data, resolved }
}

function invalid(path: string[], message: string, input: unknown, flags: FlagMap, command: string): InvalidInputError {
  const dotted = path.join('.')
  const key = Object.keys(flags).filter((k) => dotted === k || dotted.startsWith(`${k}.`)).sort((a, b) => b.length - a.length)[0]
  const value = valueAt(input, path)
  const what = key ? flags[key]! : dotted || 'the offer'
  const shown = typeof value === 'string' || typeof value === 'number' ? ` "${value}"` : ''
  const text = message.replace(/\.$/, '')
  return new InvalidInputError(`Invalid ${what}${shown}: ${text}.`, {
    hint: key ? `Run \`${command} --help\` for the flag formats.` : 'Fix the value and try again.',
  })
}

function valueAt(input: unknown, path: string[]): unknown {
  let v: unknown = input
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined
  return v
}
