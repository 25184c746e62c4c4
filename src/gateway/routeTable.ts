/**
 * The route table: RouteEntry[] compiled once per setRoutes into a Map of offer path prefixes (probed from the
 * longest candidate to the shortest, so lookup cost is O(path depth), independent of the number of offers),
 * each offer holding its sub-routes, precomputed 402 challenges, upstream pool and limiter.
 */
import type { ResolvedOffer, ResolvedPrice, ResolvedRoute } from '../offer/resolveOffer.ts'
import type { RouteEntry } from '../reconciler/types.ts'
import { compileChallenge, type Challenge } from './challenge.ts'
import { createLimiter, updateLimiter, type Limiter } from './limits.ts'
import type { Metrics, OfferMetrics } from './metrics.ts'
import { resolveSecretHeaders } from './secrets.ts'
import { splitUpstreamUrl, type Pools, type UpstreamTarget } from './upstream.ts'
import { BaseError } from '../errors/base.ts'

export type CompiledOffer = {
  key: string
  /** Public path prefix, no trailing slash. */
  path: string
  entry: RouteEntry
  resolved: ResolvedOffer
  /** undefined when the offer has no upstream URL (embedded model) or its secrets could not be resolved. */
  upstream: UpstreamTarget | undefined
  /** Why requests cannot be served right now (answered 503), e.g. a missing upstream secret. */
  unavailable: string | undefined
  limiter: Limiter | undefined
  metrics: OfferMetrics
  /** No routes[] in the spec: everything under the path is paid at the offer price. */
  whole: CompiledRoute | undefined
  exact: ReadonlyMap<string, CompiledRoute>
  /** "/x/*" routes by their prefix "/x" ("" for "/*"). */
  prefixes: ReadonlyMap<string, CompiledRoute>
  prefixMaxLen: number
}

/** One matchable route of an offer, with everything the hot path needs precomputed. */
export type CompiledRoute = {
  offer: CompiledOffer
  /** The spec route matched; undefined when the offer has no routes[]. */
  spec: ResolvedRoute | undefined
  gate: 'paid' | 'free'
  price: ResolvedPrice
  methods: ReadonlySet<string> | undefined
  /** Present for paid routes. */
  challenge: Challenge | undefined
  /** perMTok pricing: the amount depends on the request (prompt, max tokens), so the payment gate may compute the 402. */
  priceDependsOnRequest: boolean
}

export type RouteTable = {
  offers: Map<string, CompiledOffer>
  maxLen: number
}

export type CompileDeps = {
  pools: Pools
  limiters: Map<string, Limiter>
  metrics: Metrics
  env?: NodeJS.ProcessEnv
  log: (event: string, fields: Record<string, unknown>) => void
}

/**
 * Longest segment-bounded prefix of `path` present in `map`: probes path, then path cut at each '/' from the
 * right, starting no longer than maxLen. With `root`, the empty prefix matches last.
 */
export function longestPrefix<T>(map: ReadonlyMap<string, T>, path: string, maxLen: number, root = false): T | undefined {
  let end = path.length
  if (end > maxLen) end = path.lastIndexOf('/', maxLen)
  while (end > 0) {
    const hit = map.get(end === path.length ? path : path.slice(0, end))
    if (hit !== undefined) return hit
    end = path.lastIndexOf('/', end - 1)
  }
  return root ? map.get('') : undefined
}

/** Find the offer serving a public path. */
export function findOffer(table: RouteTable, path: string): CompiledOffer | undefined {
  return longestPrefix(table.offers, path, table.maxLen)
}

/** The route of an offer matching `rest` (the path below the offer prefix, '' or starting with '/'); undefined = 404. */
export function matchRoute(offer: CompiledOffer, rest: string): CompiledRoute | undefined {
  if (offer.whole) return offer.whole
  const p = rest || '/'
  return offer.exact.get(p) ?? longestPrefix(offer.prefixes, p, offer.prefixMaxLen, true)
}

/** Offers without routes[] (most of them) share these: two Maps each are ~5 MB for 10,000 offers. */
const NO_ROUTES: ReadonlyMap<string, CompiledRoute> = new Map()

function compileOffer(entry: RouteEntry, deps: CompileDeps): CompiledOffer {
  const resolved = entry.resolved
  const spec = resolved.offer.spec
  let upstream: UpstreamTarget | undefined
  let unavailable: string | undefined
  if (spec.upstream) {
    try {
      const secrets = resolveSecretHeaders(spec.upstream.headers, deps.env)
      const { origin, basePath } = splitUpstreamUrl(spec.upstream.url)
      upstream = {
        origin, basePath, pool: deps.pools.get(origin),
        secretHeaders: secrets.flat(), secretNames: secrets.length ? new Set(secrets.map(([n]) => n)) : undefined,
        timeoutMs: spec.upstream.timeoutSeconds * 1000,
      }
    } catch (err) {
      unavailable = err instanceof BaseError ? err.shortMessage : 'The upstream configuration could not be applied.'
      deps.log('Failed to resolve upstream headers', { offer: entry.key, error: unavailable })
    }
  } else {
    unavailable = `Offer ${entry.key} has no upstream URL the gateway can forward to.`
  }

  const limits = spec.limits
  let limiter: Limiter | undefined
  if (limits?.maxInFlight !== undefined || limits?.rps !== undefined) {
    limiter = deps.limiters.get(entry.key)
    if (limiter) updateLimiter(limiter, limits.maxInFlight, limits.rps)
    else deps.limiters.set(entry.key, (limiter = createLimiter(limits.maxInFlight, limits.rps)))
  }

  const offer: CompiledOffer = {
    key: entry.key, path: entry.path.replace(/\/+$/, ''), entry, resolved, upstream, unavailable, limiter,
    metrics: deps.metrics.forOffer(entry.key), whole: undefined, exact: NO_ROUTES, prefixes: NO_ROUTES, prefixMaxLen: 0,
  }
  const route = (r: ResolvedRoute | undefined): CompiledRoute => {
    const gate = r?.gate ?? 'paid'
    const price = r?.price ?? resolved.price
    return {
      offer, spec: r, gate, price, methods: r?.methods ? new Set(r.methods) : undefined,
      challenge: gate === 'paid' ? compileChallenge(resolved, r, price) : undefined,
      priceDependsOnRequest: gate === 'paid' && price.unit === 'perMTok',
    }
  }
  if (resolved.routes.length === 0) {
    offer.whole = route(undefined)
  } else {
    const exact = new Map<string, CompiledRoute>()
    const prefixes = new Map<string, CompiledRoute>()
    for (const r of resolved.routes) {
      if (r.path.endsWith('/*')) {
        const prefix = r.path.slice(0, -2)
        prefixes.set(prefix, route(r))
        offer.prefixMaxLen = Math.max(offer.prefixMaxLen, prefix.length)
      } else {
        exact.set(r.path, route(r))
      }
    }
    offer.exact = exact
    offer.prefixes = prefixes
  }
  return offer
}

/** Compile a full table; pools of origins no longer used are closed gracefully, limiters of removed offers dropped. */
export function compileRouteTable(entries: readonly RouteEntry[], deps: CompileDeps): RouteTable {
  const offers = new Map<string, CompiledOffer>()
  let maxLen = 0
  for (const entry of entries) {
    const offer = compileOffer(entry, deps)
    if (offers.has(offer.path)) {
      deps.log('Skipped duplicate route', { offer: entry.key, path: offer.path, servedBy: offers.get(offer.path)!.key })
      continue
    }
    offers.set(offer.path, offer)
    maxLen = Math.max(maxLen, offer.path.length)
  }
  const origins = new Set<string>()
  const keys = new Set<string>()
  for (const o of offers.values()) {
    if (o.upstream) origins.add(o.upstream.origin)
    keys.add(o.key)
  }
  deps.pools.retain(origins)
  for (const k of deps.limiters.keys()) if (!keys.has(k)) deps.limiters.delete(k)
  return { offers, maxLen }
}
