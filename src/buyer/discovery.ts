/**
 * Finding what to buy: a seller (URL, or <agentId>@<chain> resolved through the ERC-8004 Identity Registry to
 * its registration file's endpoints) -> its /api/services.json catalog -> one offer -> the live 402 of its paid
 * route, which must ask exactly the catalog price. Used by `vend buy add`; never by the daemon's hot path.
 */
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { BaseError, InvalidInputError, redactUrl } from '../errors/base.ts'
import { chainClients, rpcUrlFor } from '../identity/chainClients.ts'
import { getRegistration } from '../identity/erc8004.ts'
import { resolveChain, type ChainInfo } from '../offer/networks.ts'
import { formatAtomic } from '../offer/price.ts'

export class DiscoveryError extends BaseError {
  override name = 'DiscoveryError'
}

/** One entry of a seller's /api/services.json (the fields the buyer uses). */
export type CatalogService = {
  name: string
  namespace: string
  type: 'http' | 'inference'
  model?: string
  endpoint: string
  priceRaw: string
  priceUnit: 'perRequest' | 'perMTok'
  priceAtomicUnits: string
  payTo: string
  caip2Network: string
  asset: { address: string; symbol: string; decimals: number }
  routes: { method: string; path: string; url: string; gate: 'paid' | 'free'; priceAtomicUnits?: string }[]
}

export type SellerRef = { input: string; catalogUrl: string; endpoints: string[]; agent?: { agentId: bigint; chain: string } }

const AGENT_REF = /^(\d+)@([a-z0-9:-]+)$/i

/** Where the seller's catalog is: from a URL directly, from the chain's registry for <agentId>@<chain>. */
export async function resolveSeller(seller: string, opts: { rpcUrl?: (chain: ChainInfo) => string | undefined; env?: NodeJS.ProcessEnv; fetch?: typeof fetch } = {}): Promise<SellerRef> {
  const m = AGENT_REF.exec(seller)
  if (!m) {
    let url: URL
    try { url = new URL(seller) } catch { url = new URL('http://invalid') }
    if (!/^https?:$/.test(url.protocol) || url.hostname === 'invalid') {
      throw new InvalidInputError(`Invalid seller "${seller}": expected a URL like https://seller.example or <agentId>@<chain> like 42@base-sepolia.`)
    }
    const path = url.pathname.replace(/\/+$/, '')
    return { input: seller, catalogUrl: `${url.origin}/api/services.json`, endpoints: path ? [`${url.origin}${path}`] : [] }
  }
  const agentId = BigInt(m[1]!)
  const chain = resolveChain(m[2]!, 'the seller\'s chain')
  const rpcUrl = opts.rpcUrl?.(chain) ?? rpcUrlFor(chain, opts.env ?? process.env)
  if (!chain.identityRegistry) throw new InvalidInputError(`Chain ${chain.name} has no ERC-8004 Identity Registry known to Vend.`, { hint: 'Give the seller\'s URL instead.' })
  const { publicClient } = chainClients(chain, rpcUrl)
  let reg
  try {
    reg = await getRegistration(publicClient, chain.identityRegistry, agentId)
  } catch (err) {
    throw new DiscoveryError(`Could not read agent ${agentId} from the Identity Registry on ${chain.name} (${redactUrl(rpcUrl)}).`, { hint: 'Check the RPC endpoint (--rpc-url or VEND_RPC_URL_<CHAIN>).', cause: err })
  }
  if (!reg) throw new DiscoveryError(`There is no agent ${agentId} in the Identity Registry on ${chain.name}.`, { hint: 'Check the agent id and the chain.' })
  const file = await fetchJson<{ services?: { name?: string; endpoint?: string }[] }>(reg.tokenURI, `agent ${agentId}'s registration file`, opts.fetch)
  const endpoints = (file.services ?? []).filter((s) => s.name === 'web' && typeof s.endpoint === 'string' && /^https?:\/\//.test(s.endpoint)).map((s) => s.endpoint!.replace(/\/+$/, ''))
  if (!endpoints.length) throw new DiscoveryError(`Agent ${agentId}'s registration file (${reg.tokenURI}) lists no web endpoint.`, { hint: 'Ask the seller to publish its endpoints, or give its URL instead.' })
  return { input: seller, catalogUrl: `${new URL(endpoints[0]!).origin}/api/services.json`, endpoints, agent: { agentId, chain: chain.name } }
}

async function fetchJson<T>(url: string, what: string, f: typeof fetch = fetch): Promise<T> {
  let res: Response
  try {
    res = await f(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    throw new DiscoveryError(`Could not fetch ${what} at ${redactUrl(url)}: ${(err as Error).message}.`, { hint: 'Check the URL and that the seller is up.', cause: err })
  }
  if (!res.ok) throw new DiscoveryError(`Fetching ${what} at ${redactUrl(url)} answered HTTP ${res.status}.`, { hint: 'Check the URL; a Vend seller serves /api/services.json.' })
  try {
    return (await res.json()) as T
  } catch {
    throw new DiscoveryError(`${what} at ${redactUrl(url)} is not JSON.`, { hint: 'Check the URL; a Vend seller serves /api/services.json.' })
  }
}

export async function fetchCatalog(ref: SellerRef, f?: typeof fetch): Promise<CatalogService[]> {
  const doc = await fetchJson<{ services?: CatalogService[] }>(ref.catalogUrl, 'the seller\'s catalog', f)
  if (!Array.isArray(doc.services)) throw new DiscoveryError(`The catalog at ${redactUrl(ref.catalogUrl)} has no services list.`, { hint: 'Check that the URL is a Vend (or compatible) seller.' })
  return doc.services
}

/** The one offer the flags (or the seller's endpoints) select; an error lists the candidates otherwise. */
export function pickService(services: CatalogService[], ref: SellerRef, offer?: string): CatalogService {
  const key = (s: CatalogService) => `${s.namespace}/${s.name}`
  let found = services
  if (offer) found = found.filter((s) => s.name === offer || key(s) === offer)
  else if (ref.endpoints.length) found = found.filter((s) => ref.endpoints.some((e) => s.endpoint.replace(/\/+$/, '') === e || s.endpoint.startsWith(`${e}/`) || e.startsWith(`${s.endpoint.replace(/\/+$/, '')}/`)))
  const list = services.map(key).join(', ') || 'none'
  if (found.length === 1) return found[0]!
  if (!found.length) throw new InvalidInputError(`The seller offers no ${offer ? `"${offer}"` : 'matching offer'} (it offers: ${list}).`, { hint: 'Pick one with --offer <name>.' })
  throw new InvalidInputError(`The seller offers several services (${found.map(key).join(', ')}).`, { hint: 'Pick one with --offer <name>.' })
}

export type LiveQuote = { requirements: PaymentRequirements; amount: bigint; x402Version: number; route: CatalogService['routes'][number] }

/**
 * Ask the offer's paid route for its 402 and return the option on the catalog's network and asset. Refused when
 * the live amount differs from the catalog's (per-request prices). A per-token offer's probe sets no max_tokens,
 * so its amount is the maximum of a one-word prompt at the seller's completion limit.
 */
export async function probeLivePrice(s: CatalogService, f: typeof fetch = fetch): Promise<LiveQuote> {
  const route = s.routes.find((r) => r.gate === 'paid' && !r.path.endsWith('/*')) ?? s.routes.find((r) => r.gate === 'paid')
  if (!route) throw new DiscoveryError(`Offer ${s.namespace}/${s.name} has no paid route.`, { hint: 'Nothing to buy: call it directly.' })
  const post = route.method !== 'GET' && route.method !== 'HEAD'
  // A request the seller could serve, so a seller that validates before asking for payment still answers 402.
  const body = route.path.endsWith('/chat/completions') ? JSON.stringify({ model: s.model ?? 'default', messages: [{ role: 'user', content: 'ping' }] }) : '{}'
  let res: Response
  try {
    res = await f(route.url, {
      method: route.method, signal: AbortSignal.timeout(10_000),
      headers: { accept: 'application/json', ...(post ? { 'content-type': 'application/json' } : {}) }, ...(post ? { body } : {}),
    })
  } catch (err) {
    throw new DiscoveryError(`Could not reach the offer at ${redactUrl(route.url)}: ${(err as Error).message}.`, { hint: 'Check that the seller is up.', cause: err })
  }
  const text = await res.text()
  if (res.status !== 402) throw new DiscoveryError(`The offer at ${redactUrl(route.url)} answered HTTP ${res.status} instead of asking for payment (402).`, { hint: 'Check that the offer is live (the seller\'s `vend sell status`).' })
  let accepts: PaymentRequirements[] = []
  let x402Version = 2
  const header = res.headers.get('payment-required')
  try {
    if (header) accepts = decodePaymentRequiredHeader(header).accepts
    else {
      const body = JSON.parse(text) as { x402Version?: number; accepts?: PaymentRequirements[] }
      x402Version = body.x402Version ?? 1
      accepts = body.accepts ?? []
    }
  } catch {
    throw new DiscoveryError(`The 402 from ${redactUrl(route.url)} carries no readable payment requirements.`, { hint: 'The seller does not speak x402 v1 or v2.' })
  }
  // A per-token seller may offer only upto (both ask the same maximum); exact is preferred, as when paying.
  const schemes = s.priceUnit === 'perMTok' ? ['exact', 'upto'] : ['exact']
  const sameNetwork = (a: PaymentRequirements) => a.network === s.caip2Network || `eip155:${(a as { chainId?: number }).chainId}` === s.caip2Network || a.network === s.caip2Network.split(':')[1]
  const fits = (a: PaymentRequirements, scheme: string) => a.scheme === scheme && a.asset.toLowerCase() === s.asset.address.toLowerCase()
  let option: PaymentRequirements | undefined
  for (const scheme of schemes) option ??= accepts.find((a) => fits(a, scheme) && sameNetwork(a)) ?? accepts.find((a) => fits(a, scheme))
  if (!option) throw new DiscoveryError(`The live 402 of ${s.namespace}/${s.name} offers no ${schemes.join(' or ')} payment in ${s.asset.symbol} (${s.asset.address}).`, { hint: 'The catalog and the live offer disagree; ask the seller.' })
  const amount = BigInt(option.amount ?? (option as { maxAmountRequired?: string }).maxAmountRequired ?? '0')
  const catalog = BigInt(route.priceAtomicUnits ?? s.priceAtomicUnits)
  if (s.priceUnit === 'perRequest' && amount !== catalog) {
    const d = s.asset.decimals
    throw new DiscoveryError(`The live price of ${s.namespace}/${s.name} (${formatAtomic(amount, d)} ${s.asset.symbol}) differs from its catalog price (${formatAtomic(catalog, d)} ${s.asset.symbol}).`, {
      hint: 'The seller is changing its price; try again in a moment, or ask the seller.',
    })
  }
  return { requirements: option, amount, x402Version, route }
}
