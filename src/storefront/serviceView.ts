/**
 * One catalog entry seen from a buyer: absolute URLs, human prices, the callable operations and their x402
 * requirements. Every discovery document (services.json, skill.md, .well-known/x402, openapi.json,
 * /discovery/resources, the HTML storefront) renders from these views, so they can never disagree. Pure.
 */
import type { PaymentRequirements } from '@x402/core/types'
import type { AssetInfo } from '../offer/networks.ts'
import { formatAtomic } from '../offer/price.ts'
import type { ResolvedOffer, ResolvedPrice, ResolvedRoute } from '../offer/resolveOffer.ts'
import { compileChallenge } from '../gateway/challenge.ts'
import { INFERENCE_ENDPOINTS, type InferenceKind } from '../inference/validateRequest.ts'
import type { CatalogEntry } from '../reconciler/types.ts'

export type PriceView = {
  unit: ResolvedPrice['unit']
  /** Normalised decimal in token units ("0.001"), from the atomic amount: never float formatting. */
  decimal: string
  /** Atomic units as a decimal integer string. */
  atomic: string
  /** "0.001 USDC" */
  amount: string
  /** "0.001 USDC/request" or "1.25 USDC/MTok" */
  label: string
}

export type OperationView = {
  method: string
  /** Public path (offer path + route), e.g. /services/weather/today; a wildcard route ends in "/*". */
  path: string
  /** Absolute URL (for a wildcard route: the prefix URL, without the "*"). */
  url: string
  gate: 'paid' | 'free'
  price: PriceView
  summary: string | undefined
  /** The route covers every sub-path under `path` without the trailing "/*". */
  wildcard: boolean
  /** x402 v2 accepts entry for this operation (undefined for free operations). */
  accepts: PaymentRequirements | undefined
}

export type ServiceView = {
  key: string
  name: string
  namespace: string
  type: 'http' | 'inference'
  model: string | undefined
  /** Absolute URL of the offer path. */
  endpoint: string
  path: string
  description: string
  price: PriceView
  payTo: string
  /** Chain alias, e.g. base-sepolia. */
  network: string
  caip2: string
  chainId: number
  testnet: boolean
  asset: AssetInfo
  registrationPending: boolean
  /** ERC-8004 agent id on the offer's chain, once registered. */
  agentId: string | undefined
  /** ISO time the offer stops being served; set only while the offer is draining (the reconciler's status). */
  drainEndsAt: string | undefined
  operations: OperationView[]
  /** The offer lists its routes (spec.routes): only those paths are served. */
  explicitRoutes: boolean
  /** The operation a buyer tries first (first paid one, else the first). */
  primary: OperationView
}

const INFERENCE_SUMMARIES: Readonly<Record<InferenceKind, string>> = {
  chat: 'OpenAI-compatible chat completions (supports "stream": true)',
  completion: 'OpenAI-compatible text completions',
  embedding: 'OpenAI-compatible embeddings',
}

export function toPriceView(price: ResolvedPrice, asset: AssetInfo): PriceView {
  const decimal = formatAtomic(price.atomic, asset.decimals)
  const amount = `${decimal} ${asset.symbol}`
  return { unit: price.unit, decimal, atomic: price.atomic.toString(), amount, label: `${amount}/${price.unit === 'perMTok' ? 'MTok' : 'request'}` }
}

export function defaultDescription(resolved: ResolvedOffer): string {
  const { spec, metadata } = resolved.offer
  if (spec.description) return spec.description
  if (spec.registration.description) return spec.registration.description
  if (spec.type === 'inference' && spec.model) return `${spec.model.name} inference via x402 micropayments`
  return `x402 payment-gated HTTP API: ${metadata.name}`
}

function operationsOf(resolved: ResolvedOffer, endpoint: string): OperationView[] {
  const challenges = new Map<ResolvedRoute | undefined, PaymentRequirements | undefined>()
  // Exactly what the gateway's 402 asks for on this route (perMTok: the up-front amount for model.maxTokens).
  const acceptsFor = (route: ResolvedRoute | undefined, price: ResolvedPrice) => {
    if (!challenges.has(route)) challenges.set(route, compileChallenge(resolved, route, price).accepts[0])
    return challenges.get(route)
  }
  const op = (method: string, rel: string, gate: 'paid' | 'free', price: ResolvedPrice, summary: string | undefined, route?: ResolvedRoute): OperationView => {
    const wildcard = rel.endsWith('/*')
    const relPath = wildcard ? rel.slice(0, -1) : rel
    const path = `${resolved.path === '/' ? '' : resolved.path}${rel}` || '/'
    return {
      method, path, url: `${endpoint.replace(/\/$/, '')}${relPath}`, gate, price: toPriceView(price, resolved.asset), summary, wildcard,
      accepts: gate === 'paid' ? acceptsFor(route, price) : undefined,
    }
  }
  if (resolved.routes.length) {
    return resolved.routes.flatMap((r) => (r.methods?.length ? r.methods : ['GET']).map((m) => op(m, r.path, r.gate, r.price, r.summary, r)))
  }
  if (resolved.offer.spec.type === 'inference') {
    return (['chat', 'completion', 'embedding'] as const).map((k) => op('POST', INFERENCE_ENDPOINTS[k], 'paid', resolved.price, INFERENCE_SUMMARIES[k]))
  }
  return [op('GET', '', 'paid', resolved.price, undefined)]
}

export function toServiceView(entry: CatalogEntry, baseUrl: string): ServiceView {
  const { resolved } = entry
  const { spec, metadata } = resolved.offer
  const endpoint = `${baseUrl.replace(/\/+$/, '')}${resolved.path === '/' ? '' : resolved.path}`
  const operations = operationsOf(resolved, endpoint)
  const primary = operations.find((o) => o.gate === 'paid' && !o.wildcard) ?? operations.find((o) => o.gate === 'paid') ?? operations[0]!
  return {
    key: entry.key, name: metadata.name, namespace: metadata.namespace, type: spec.type, model: spec.model?.name,
    endpoint, path: resolved.path, description: defaultDescription(resolved), price: toPriceView(resolved.price, resolved.asset),
    payTo: spec.payment.payTo, network: resolved.chain.name, caip2: resolved.chain.caip2, chainId: resolved.chain.chainId,
    testnet: resolved.chain.testnet, asset: resolved.asset,
    registrationPending: entry.registrationPending, agentId: entry.status.agentId, drainEndsAt: entry.status.drainEndsAt, operations, explicitRoutes: resolved.routes.length > 0, primary,
  }
}

/** Views of the whole catalog, sorted by namespace then name. */
export function toServiceViews(catalog: readonly CatalogEntry[], baseUrl: string): ServiceView[] {
  return catalog.map((e) => toServiceView(e, baseUrl))
    .sort((a, b) => (a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace)))
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Every concrete paid operation (wildcard routes have no single URL to probe, so they are left out). */
export function paidOperations(views: readonly ServiceView[]): { view: ServiceView; op: OperationView & { accepts: PaymentRequirements } }[] {
  return views.flatMap((view) => view.operations.flatMap((op) => (op.accepts && !op.wildcard ? [{ view, op: { ...op, accepts: op.accepts } }] : [])))
}
