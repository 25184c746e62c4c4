/**
 * GET /discovery/resources: the x402 Bazaar discovery response (`DiscoveryResourcesResponse`), so
 * `withBazaar(new HTTPFacilitatorClient({ url: <stack> })).extensions.bazaar.listResources()` works
 * against a stack. Items are built once per catalog; filters and paging run per request. Pure.
 */
import type { PaymentRequirements } from '@x402/core/types'
import { findChain } from '../offer/networks.ts'
import { paidOperations, type ServiceView } from './serviceView.ts'

export type DiscoveryItem = {
  resource: string
  type: 'http'
  x402Version: 2
  accepts: PaymentRequirements[]
  lastUpdated: string
  description: string
  mimeType: string
  serviceName: string
  tags: string[]
  metadata: { method: string; namespace: string; offer: string }
}

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 1000

/** Items for every concrete paid operation. `lastUpdated` is when the catalog was rendered. */
export function toDiscoveryItems(views: readonly ServiceView[], lastUpdated: string): DiscoveryItem[] {
  return paidOperations(views).map(({ view: v, op: o }) => ({
    resource: o.url,
    type: 'http' as const,
    x402Version: 2 as const,
    accepts: [o.accepts],
    lastUpdated,
    description: o.summary ? `${v.description} (${o.summary})` : v.description,
    mimeType: 'application/json',
    serviceName: v.name,
    tags: v.type === 'inference' ? ['inference', 'llm', ...(v.model ? [v.model] : [])] : ['http', 'api'],
    metadata: { method: o.method, namespace: v.namespace, offer: v.name },
  }))
}

function intParam(value: string | null, fallback: number, max: number): number {
  if (value === null || !/^\d{1,9}$/.test(value)) return fallback
  return Math.min(Number(value), max)
}

/** Apply ?type&network&payTo&scheme filters and ?limit&offset paging. Networks match by alias or CAIP-2. */
export function renderDiscoveryResources(items: readonly DiscoveryItem[], query: URLSearchParams): string {
  const type = query.get('type')
  const network = query.get('network')
  const caip2 = network ? findChain(network)?.caip2 ?? network : undefined
  const payTo = query.get('payTo')?.toLowerCase()
  const scheme = query.get('scheme')
  const matching = items.filter((i) => (!type || i.type === type)
    && i.accepts.some((a) => (!caip2 || a.network === caip2) && (!payTo || a.payTo.toLowerCase() === payTo) && (!scheme || a.scheme === scheme)))
  const limit = intParam(query.get('limit'), DEFAULT_LIMIT, MAX_LIMIT)
  const offset = intParam(query.get('offset'), 0, Number.MAX_SAFE_INTEGER)
  return JSON.stringify({ x402Version: 2, items: matching.slice(offset, offset + limit), pagination: { limit, offset, total: matching.length } }, null, 2)
}
