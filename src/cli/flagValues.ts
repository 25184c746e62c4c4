/** Parsers for flag values that are more than a string. Every error names the flag and shows the expected form. */
import { InvalidInputError } from '../errors/base.ts'
import { isDecimalString } from '../offer/price.ts'
import { parseDurationMs } from '../offer/resolveOffer.ts'
import type { SecretRef } from '../offer/schema.ts'

/** Commander argParser for repeatable flags. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

export function parseKeyValue(value: string, flag: string): [string, string] {
  const i = value.indexOf('=')
  if (i <= 0) throw new InvalidInputError(`Invalid ${flag} "${value}": expected key=value.`, { hint: `Write it like ${flag} team=weather.` })
  return [value.slice(0, i).trim(), value.slice(i + 1).trim()]
}

export function intFlag(value: string, flag: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidInputError(`Invalid ${flag} "${value}": expected a whole number from ${min} to ${max}.`)
  }
  return n
}

export function positiveNumberFlag(value: string, flag: string): number {
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidInputError(`Invalid ${flag} "${value}": expected a positive number like 10 or 0.5.`)
  return n
}

export function durationFlag(value: string, flag: string): string {
  if (!/^(\d+(ms|s|m|h|d))+$/.test(value)) {
    throw new InvalidInputError(`Invalid ${flag} "${value}": expected a duration like 30s, 15m, 1h or 1h30m.`)
  }
  return value
}

/** --max-timeout: seconds ("300") or a duration ("5m"). */
export function secondsFlag(value: string, flag: string, min: number, max: number): number {
  const seconds = /^\d+$/.test(value) ? Number(value) : parseDurationMs(durationFlag(value, flag)) / 1000
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    throw new InvalidInputError(`Invalid ${flag} "${value}": expected ${min} to ${max} seconds (e.g. 300 or 5m).`)
  }
  return seconds
}

/** --upstream-header "Authorization=Bearer env:API_KEY" or "X-Key=file:/run/secrets/key": never a literal secret. */
export function parseUpstreamHeader(value: string): [string, SecretRef] {
  const flag = '--upstream-header'
  const [name, ref] = parseKeyValue(value, flag)
  const hint = `Write ${flag} "Name=env:VAR" or "Name=file:/path" (optionally with a prefix, e.g. "Authorization=Bearer env:API_KEY"); literal secrets are not allowed.`
  if (!/^[A-Za-z0-9-]+$/.test(name)) throw new InvalidInputError(`Invalid ${flag} "${value}": "${name}" is not an HTTP header name.`, { hint })
  const m = /^(.*?)(env|file):(.+)$/s.exec(ref)
  if (!m) throw new InvalidInputError(`Invalid ${flag} for ${name}: the value must come from env:VAR or file:/path.`, { hint })
  const [, prefix = '', kind, source = ''] = m
  if (kind === 'env' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(source)) {
    throw new InvalidInputError(`Invalid ${flag} for ${name}: "${source}" is not an environment variable name.`, { hint })
  }
  const base: SecretRef = kind === 'env' ? { env: source } : { file: source }
  return [name, prefix ? { ...base, prefix } : base]
}

export type RouteInput = { path: string; gate?: 'paid' | 'free'; price?: { perRequest: string }; methods?: string[]; summary?: string }

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** --route "path=/submit,price=0.5" | "path=/x,gate=free" | "path=/jobs/*,methods=GET|POST,summary=List jobs" */
export function parseRoute(value: string): RouteInput {
  const flag = '--route'
  const hint = 'Write it like --route "path=/submit,price=0.5" or --route "path=/status,gate=free" (keys: path, gate, price, methods, summary).'
  const fields = new Map<string, string>()
  for (const part of value.split(',')) {
    if (!part.trim()) continue
    const [k, v] = parseKeyValue(part, flag)
    if (!['path', 'gate', 'price', 'methods', 'summary'].includes(k)) throw new InvalidInputError(`Invalid ${flag} "${value}": unknown key "${k}".`, { hint })
    fields.set(k, v)
  }
  const path = fields.get('path')
  if (!path || !path.startsWith('/')) throw new InvalidInputError(`Invalid ${flag} "${value}": path=/... is required.`, { hint })
  const route: RouteInput = { path }
  const gate = fields.get('gate')
  if (gate !== undefined) {
    if (gate !== 'paid' && gate !== 'free') throw new InvalidInputError(`Invalid ${flag} "${value}": gate must be paid or free.`, { hint })
    route.gate = gate
  }
  const price = fields.get('price')
  if (price !== undefined) {
    if (!isDecimalString(price)) throw new InvalidInputError(`Invalid ${flag} "${value}": price must be a decimal number like 0.5.`, { hint })
    if (gate === 'free') throw new InvalidInputError(`Invalid ${flag} "${value}": a free route cannot have a price.`, { hint })
    route.price = { perRequest: price }
  }
  const methods = fields.get('methods')
  if (methods !== undefined) {
    const list = methods.split('|').map((m) => m.trim().toUpperCase())
    const bad = list.find((m) => !METHODS.has(m))
    if (bad !== undefined) throw new InvalidInputError(`Invalid ${flag} "${value}": unknown method "${bad}".`, { hint: 'Separate methods with |, e.g. methods=GET|POST.' })
    route.methods = list
  }
  const summary = fields.get('summary')
  if (summary !== undefined) route.summary = summary
  return route
}
