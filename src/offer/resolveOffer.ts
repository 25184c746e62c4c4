/**
 * Cross-field validation and resolution of a schema-valid ServiceOffer into what the gateway and the
 * catalog need: chain, asset with its EIP-712 domain, atomic prices, effective path. Pure.
 */
import { findChain, isAddress, type AssetInfo, type ChainInfo } from './networks.ts'
import { toAtomic } from './price.ts'
import type { PriceSpec, ServiceOffer } from './schema.ts'
import { BaseError } from '../errors/base.ts'

export type PriceUnit = 'perRequest' | 'perMTok'

export type ResolvedPrice = { unit: PriceUnit; decimal: string; atomic: bigint }

export type ResolvedRoute = {
  /** Path relative to the offer path, e.g. "/submit" or "/jobs/*". */
  path: string
  gate: 'paid' | 'free'
  price: ResolvedPrice
  methods: string[] | undefined
  summary: string | undefined
}

export type ResolvedOffer = {
  /** "<namespace>/<name>" */
  key: string
  offer: ServiceOffer
  chain: ChainInfo
  asset: AssetInfo
  price: ResolvedPrice
  /** Effective public path prefix (no trailing slash). */
  path: string
  routes: ResolvedRoute[]
  /** drainAt + grace, in ms since epoch, when draining. */
  drainEndsAt: number | undefined
  drainAt: number | undefined
}

export type FieldProblem = { path: (string | number)[]; message: string }

export class OfferInvalidError extends BaseError {
  override name = 'OfferInvalidError'
  readonly problems: FieldProblem[]
  constructor(problems: FieldProblem[]) {
    const first = problems[0]
    super(first ? `${formatPath(first.path)}: ${first.message}` : 'Offer is invalid.', { exitCode: 2 })
    this.problems = problems
  }
}

export function formatPath(path: readonly (string | number | symbol)[]): string {
  return path.length ? path.map(String).join('.') : '(document)'
}

export const RESERVED_PREFIXES = ['/api', '/.well-known', '/discovery', '/dashboard', '/buy', '/_vend'] as const
export const RESERVED_EXACT = ['/', '/skill.md', '/openapi.json', '/healthz', '/readyz', '/metrics', '/favicon.ico'] as const

/** Why a public path may not be used by an offer, or undefined when it is free to use. */
export function reservedPathReason(path: string): string | undefined {
  const p = path.replace(/\/+$/, '') || '/'
  if ((RESERVED_EXACT as readonly string[]).includes(p)) return `${p} is reserved for the stack's own pages`
  for (const r of RESERVED_PREFIXES) if (p === r || p.startsWith(`${r}/`)) return `${r}/* is reserved for the stack's own pages`
  return undefined
}

export function defaultOfferPath(name: string): string {
  return `/services/${name}`
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

export function parseDurationMs(value: string): number {
  let total = 0
  for (const m of value.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * (DURATION_UNITS[m[2] as string] ?? 0)
  return total
}

function priceOf(spec: PriceSpec | undefined, decimals: number, at: (string | number)[], problems: FieldProblem[]): ResolvedPrice | undefined {
  if (!spec) return undefined
  const set = (['perRequest', 'perMTok'] as const).filter((k) => spec[k] !== undefined)
  if (set.length !== 1) {
    problems.push({ path: at, message: set.length ? `set exactly one of perRequest or perMTok, not ${set.join(' and ')}` : 'set one of perRequest or perMTok' })
    return undefined
  }
  const unit = set[0] as PriceUnit
  const decimal = spec[unit] as string
  try {
    return { unit, decimal, atomic: toAtomic(decimal, decimals) }
  } catch (err) {
    problems.push({ path: [...at, unit], message: err instanceof BaseError ? err.shortMessage : String(err) })
    return undefined
  }
}

/** Resolve a schema-valid offer, or throw OfferInvalidError listing every problem. */
export function resolveOffer(offer: ServiceOffer): ResolvedOffer {
  const problems: FieldProblem[] = []
  const { spec, metadata } = offer
  const pay = spec.payment

  const chain = findChain(pay.network)
  let asset: AssetInfo | undefined
  if (!chain) {
    problems.push({ path: ['spec', 'payment', 'network'], message: `unknown chain "${pay.network}"; use base, base-sepolia, ethereum, local, another known alias, or its CAIP-2 id` })
  } else if (pay.asset) {
    const a = pay.asset
    const isUsdc = chain.usdc && a.address.toLowerCase() === chain.usdc.address.toLowerCase()
    const base = isUsdc ? chain.usdc : undefined
    const decimals = a.decimals ?? base?.decimals
    const eip712Name = a.eip712Name ?? base?.eip712Name
    const eip712Version = a.eip712Version ?? base?.eip712Version
    if (decimals === undefined || !eip712Name || !eip712Version) {
      problems.push({ path: ['spec', 'payment', 'asset'], message: 'a token other than the chain\'s USDC needs decimals, eip712Name and eip712Version' })
    } else {
      asset = {
        address: a.address as AssetInfo['address'], symbol: a.symbol ?? base?.symbol ?? 'TOKEN', decimals,
        eip712Name, eip712Version, transferMethod: a.transferMethod ?? base?.transferMethod ?? 'eip3009',
      }
    }
  } else if (!chain.usdc) {
    problems.push({ path: ['spec', 'payment', 'asset'], message: `chain ${chain.name} has no default USDC; set payment.asset` })
  } else {
    asset = chain.usdc
  }
  if (!isAddress(pay.payTo) || /^0x0{40}$/.test(pay.payTo)) problems.push({ path: ['spec', 'payment', 'payTo'], message: 'must be a non-zero address' })

  const decimals = asset?.decimals ?? 6
  const price = priceOf(pay.price, decimals, ['spec', 'payment', 'price'], problems)

  if (spec.type === 'http' && !spec.upstream) problems.push({ path: ['spec', 'upstream'], message: 'an http offer needs upstream.url' })
  if (spec.type === 'inference') {
    if (!spec.model) problems.push({ path: ['spec', 'model'], message: 'an inference offer needs model.name' })
    else if (!spec.upstream && !spec.model.file) problems.push({ path: ['spec', 'upstream'], message: 'an inference offer needs upstream.url or model.file' })
    else if (spec.upstream && spec.model.file) problems.push({ path: ['spec', 'model', 'file'], message: 'set either upstream.url or model.file, not both' })
  }
  if (spec.type === 'http' && spec.model) problems.push({ path: ['spec', 'model'], message: 'model is only for inference offers' })
  if (spec.type === 'http' && pay.price.perMTok !== undefined) problems.push({ path: ['spec', 'payment', 'price', 'perMTok'], message: 'perMTok is only for inference offers; use perRequest' })

  const routes: ResolvedRoute[] = []
  const seen = new Set<string>()
  for (const [i, r] of (spec.routes ?? []).entries()) {
    if (seen.has(r.path)) problems.push({ path: ['spec', 'routes', i, 'path'], message: `duplicate route path ${r.path}` })
    seen.add(r.path)
    if (r.path.includes('*') && !/^[^*]*\/\*$/.test(r.path)) problems.push({ path: ['spec', 'routes', i, 'path'], message: 'a wildcard is only allowed as a trailing /*' })
    const rp = r.price ? priceOf(r.price, decimals, ['spec', 'routes', i, 'price'], problems) : price
    if (r.price && r.gate === 'free') problems.push({ path: ['spec', 'routes', i, 'price'], message: 'a free route cannot have a price' })
    if (rp) routes.push({ path: r.path, gate: r.gate, price: rp, methods: r.methods, summary: r.summary })
  }

  const drainAt = spec.drainAt ? Date.parse(spec.drainAt) : undefined
  const drainEndsAt = drainAt === undefined ? undefined : drainAt + (spec.drainGracePeriod ? parseDurationMs(spec.drainGracePeriod) : 3_600_000)

  if (problems.length || !chain || !asset || !price) throw new OfferInvalidError(problems)
  const path = (spec.path ?? defaultOfferPath(metadata.name)).replace(/\/+$/, '') || '/'
  return { key: `${metadata.namespace}/${metadata.name}`, offer, chain, asset, price, path, routes, drainAt, drainEndsAt }
}
