/**
 * `vend buy add`: discover the seller's offer, check its live price, and write purchases/<name>.yaml. Adding a
 * purchase under an existing name replaces it (that is how budgets are raised from the command line).
 */
import { existsSync } from 'node:fs'
import { InvalidInputError } from '../errors/base.ts'
import { API_VERSION } from '../offer/schema.ts'
import { formatAtomic, toAtomic } from '../offer/price.ts'
import type { ChainInfo } from '../offer/networks.ts'
import { assertName, type HomePaths } from '../state/home.ts'
import { DiscoveryError, fetchCatalog, pickService, probeLivePrice, resolveSeller, type CatalogService } from './discovery.ts'
import { maxTokensFromProbe } from './perTokenBound.ts'
import { PURCHASE_KIND, type Purchase } from './purchaseSchema.ts'
import { purchaseFile, writePurchase } from './purchaseStore.ts'

export type AddPurchaseInput = {
  seller: string
  offer?: string | undefined
  model?: string | undefined
  /** Total budget, decimal token units. */
  budget: string
  perDay?: string | undefined
  /** Most one request may cost (default: the live price; per-token offers: the total budget, or the daily one when smaller). */
  maxPrice?: string | undefined
  name?: string | undefined
}

export type AddPurchaseOptions = {
  /** RPC URL for a chain named in <agentId>@<chain> (default VEND_RPC_URL_<CHAIN> or the chain's public RPC). */
  rpcUrl?: (chain: ChainInfo) => string | undefined
  env?: NodeJS.ProcessEnv
  fetch?: typeof fetch
}

export type AddPurchaseResult = { purchase: Purchase; file: string; replaced: boolean; agent?: { agentId: bigint; chain: string } | undefined }

export async function addPurchase(paths: HomePaths, input: AddPurchaseInput, opts: AddPurchaseOptions = {}): Promise<AddPurchaseResult> {
  if (input.name !== undefined) assertName(input.name, 'purchase name', '--name')
  const ref = await resolveSeller(input.seller, opts)
  const service = pickService(await fetchCatalog(ref, opts.fetch), ref, input.offer)
  const name = assertName(input.name ?? service.name, 'purchase name', '--name')
  const quote = await probeLivePrice(service, opts.fetch)
  const d = service.asset.decimals
  const sym = service.asset.symbol
  const perToken = service.priceUnit === 'perMTok'
  // perRequest: the live price. perMTok: the catalog's price per million tokens (a 402 asks a maximum computed
  // from each request, checked against this price when paying, see perTokenBound.ts).
  const perMTok = perToken ? catalogAtomic(service) : undefined
  const price = formatAtomic(perMTok ?? quote.amount, d)

  const total = toAtomic(input.budget, d, '--budget')
  const perDay = input.perDay === undefined ? undefined : toAtomic(input.perDay, d, '--per-day')
  // A per-token request costs what its prompt and max_tokens make it cost: by default only the budgets cap it.
  const defaultMax = perToken ? (perDay !== undefined && perDay < total ? perDay : total) : quote.amount
  const max = input.maxPrice === undefined ? defaultMax : toAtomic(input.maxPrice, d, '--max-price')
  if (!perToken) {
    if (quote.amount > max) {
      throw new InvalidInputError(`The seller asks ${price} ${sym} per request, more than --max-price ${input.maxPrice}.`, { hint: 'Raise --max-price if you mean to pay that much.' })
    }
    if (total < quote.amount) throw new InvalidInputError(`--budget ${input.budget} is less than one request (${price} ${sym}).`, { hint: `Give a --budget of at least ${price}.` })
    if (perDay !== undefined && perDay < quote.amount) throw new InvalidInputError(`--per-day ${input.perDay} is less than one request (${price} ${sym}).`, { hint: `Give a --per-day of at least ${price}.` })
  }
  // The probe set no max_tokens: its maximum bounds the seller's completion limit (not for an embeddings probe).
  const maxTokens = perMTok !== undefined && !/\/embeddings\/?$/.test(quote.route.path) ? maxTokensFromProbe(quote.amount, perMTok) : undefined

  const model = input.model ?? service.model
  const purchase: Purchase = {
    apiVersion: API_VERSION,
    kind: PURCHASE_KIND,
    metadata: { name },
    spec: {
      seller: input.seller,
      offer: `${service.namespace}/${service.name}`,
      ...(model === undefined ? {} : { model }),
      endpoint: service.endpoint,
      budget: {
        total: formatAtomic(total, d),
        ...(perDay === undefined ? {} : { perDay: formatAtomic(perDay, d) }),
        maxPerRequest: formatAtomic(max, d),
      },
      payment: {
        network: service.caip2Network, asset: service.asset.address, decimals: d, symbol: sym, payTo: quote.requirements.payTo, price,
        ...(perToken ? { unit: 'perMTok' as const } : {}), ...(maxTokens === undefined ? {} : { maxTokens }),
      },
    },
  }
  const replaced = existsSync(purchaseFile(paths, name))
  const file = writePurchase(paths, purchase)
  return { purchase, file, replaced, agent: ref.agent }
}

/** The catalog's price of a per-token offer, atomic units per million tokens. */
function catalogAtomic(s: CatalogService): bigint {
  const raw = String(s.priceAtomicUnits)
  if (!/^\d{1,78}$/.test(raw)) throw new DiscoveryError(`The catalog gives ${s.namespace}/${s.name} no readable per-token price (priceAtomicUnits "${raw}").`, { hint: 'Ask the seller; a Vend seller\'s /api/services.json has it.' })
  return BigInt(raw)
}
