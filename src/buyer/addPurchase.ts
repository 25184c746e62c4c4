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
import { fetchCatalog, pickService, probeLivePrice, resolveSeller } from './discovery.ts'
import { PURCHASE_KIND, type Purchase } from './purchaseSchema.ts'
import { purchaseFile, writePurchase } from './purchaseStore.ts'

export type AddPurchaseInput = {
  seller: string
  offer?: string | undefined
  model?: string | undefined
  /** Total budget, decimal token units. */
  budget: string
  perDay?: string | undefined
  /** Most one request may cost (default: the live price). */
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
  const price = formatAtomic(quote.amount, d)

  const total = toAtomic(input.budget, d, '--budget')
  const perDay = input.perDay === undefined ? undefined : toAtomic(input.perDay, d, '--per-day')
  const max = input.maxPrice === undefined ? quote.amount : toAtomic(input.maxPrice, d, '--max-price')
  if (quote.amount > max) {
    throw new InvalidInputError(`The seller asks ${price} ${sym} per request, more than --max-price ${input.maxPrice}.`, { hint: 'Raise --max-price if you mean to pay that much.' })
  }
  if (total < quote.amount) throw new InvalidInputError(`--budget ${input.budget} is less than one request (${price} ${sym}).`, { hint: `Give a --budget of at least ${price}.` })
  if (perDay !== undefined && perDay < quote.amount) throw new InvalidInputError(`--per-day ${input.perDay} is less than one request (${price} ${sym}).`, { hint: `Give a --per-day of at least ${price}.` })

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
      payment: { network: service.caip2Network, asset: service.asset.address, decimals: d, symbol: sym, payTo: quote.requirements.payTo, price },
    },
  }
  const replaced = existsSync(purchaseFile(paths, name))
  const file = writePurchase(paths, purchase)
  return { purchase, file, replaced, agent: ref.agent }
}
