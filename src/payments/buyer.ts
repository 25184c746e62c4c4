/**
 * Paying for one HTTP request as a buyer, with the official @x402/fetch client: x402 v2 (PAYMENT-SIGNATURE) and v1
 * (X-PAYMENT) servers, any EVM network, capped per payment by `maxAmount` (decimal token units, exact).
 * `upto` (Permit2, charged for what was used) is preferred when the server offers it and the payer's Permit2
 * allowance for the token is in place or can be approved (needs `rpcUrl` and ETH for gas); otherwise the client
 * pays the `exact` fallback, the full maximum.
 */
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { toClientEvmSigner } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { ExactEvmSchemeV1 } from '@x402/evm/exact/v1/client'
import { UptoEvmScheme } from '@x402/evm/upto/client'
import { NETWORKS } from '@x402/evm/v1'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import { createPublicClient, createWalletClient, defineChain, erc20Abi, http, type Address, type LocalAccount } from 'viem'
import { BaseError } from '../errors/base.ts'
import { findChain } from '../offer/networks.ts'
import { formatAtomic, toAtomic } from '../offer/price.ts'
import { chargedAmount } from './upto.ts'

export type PayRequest = {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: string
  account: LocalAccount
  /** Most one payment may cost, in token units ("0.10"). */
  maxAmount: string
  /** JSON-RPC URL of the payment's chain: needed to pay `upto` (Permit2 allowance check and approval). */
  rpcUrl?: string
  fetch?: typeof fetch
}

export type PayReceipt = {
  success: boolean; transaction: string; network: string; payer?: string | undefined
  scheme: string
  /** Atomic units charged (the receipt's amount for upto, else the requirement's). */
  amount: string
  /** Atomic units the payment authorised at most. */
  maxAmount: string
  asset: string; decimals: number
}

export type PayResult = { status: number; headers: Record<string, string>; body: string; receipt: PayReceipt | undefined }

export class PaymentRefusedError extends BaseError {
  override name = 'PaymentRefusedError'
}

type AnyRequirements = PaymentRequirements & { maxAmountRequired?: string }
const amountOf = (r: AnyRequirements) => BigInt(r.amount ?? r.maxAmountRequired ?? '0')

/** Decimals of an asset: the chain's USDC when it is that token, else 6 (every x402 stablecoin but two). */
export function assetDecimals(network: string, asset: string): number {
  const usdc = findChain(network)?.usdc
  return usdc && usdc.address.toLowerCase() === asset.toLowerCase() ? usdc.decimals : 6
}

/** The key preparePermit2 returns for a requirement whose token Permit2 may move. */
const permit2Key = (r: PaymentRequirements): string => `${r.network}|${r.asset.toLowerCase()}`

/** Approvals in flight, by chain|owner|token: concurrent payments (the daemon's buyer) send one approval, not one each. */
const approving = new Map<string, Promise<unknown>>()

/**
 * Make Permit2 able to move each `upto` requirement's token for the payer on the chain at `rpcUrl`: an allowance
 * of at least the amount is kept, else the maximum is approved when the payer has ETH for gas. Returns the
 * `network|asset` keys that are ready (see permit2Key); the others are left to the exact fallback.
 */
async function preparePermit2(account: LocalAccount, rpcUrl: string, accepts: readonly PaymentRequirements[]): Promise<Set<string>> {
  const ready = new Set<string>()
  const upto = accepts.filter((a) => a.scheme === 'upto')
  if (upto.length === 0) return ready
  const { approvePermit2, PERMIT2_ADDRESS } = await import('../devchain/permit2.ts')
  const transport = http(rpcUrl, { retryCount: 0 })
  const chainId = await createPublicClient({ transport }).getChainId()
  const chain = defineChain({ id: chainId, name: `eip155:${chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } })
  const pub = createPublicClient({ chain, transport })
  for (const r of upto) {
    if (r.network !== `eip155:${chainId}` || ready.has(permit2Key(r))) continue
    const token = r.asset as Address
    const allowance = await pub.readContract({ address: token, abi: erc20Abi, functionName: 'allowance', args: [account.address, PERMIT2_ADDRESS] })
    if (allowance >= BigInt(r.amount)) ready.add(permit2Key(r))
    else if (await pub.getBalance({ address: account.address }) > 0n) {
      const key = `${chainId}|${account.address.toLowerCase()}|${token.toLowerCase()}`
      let approval = approving.get(key)
      if (!approval) {
        approval = approvePermit2(createWalletClient({ account, chain, transport }), token).finally(() => approving.delete(key))
        approving.set(key, approval)
      }
      await approval
      ready.add(permit2Key(r))
    }
  }
  return ready
}

/**
 * An x402 client paying from `account`: `upto` (Permit2) and `exact` on v2, `exact` on v1. Its fetch sees the
 * seller's first 402 before the client's (synchronous) policies choose, and prepares Permit2 for the upto options
 * `approvable` allows (allowance check, one approval when needed; needs `rpcUrl`). `uptoReady` then says whether
 * an upto requirement can be paid; when the chain cannot be reached or the approval fails, none can and the exact
 * fallback is paid. Callers add their own policies and hooks, then pay with `wrapFetchWithPayment(fetch, client)`.
 * Shared by `vend pay` (payRequest) and the daemon's buyer endpoints (src/buyer/payPurchase.ts).
 */
export function payingClient(account: LocalAccount, rpcUrl: string | undefined, base: typeof fetch = fetch, approvable: (r: PaymentRequirements) => boolean = () => true) {
  let ready: ReadonlySet<string> = new Set()
  let prepared = false
  const fetchPreparingPermit2: typeof fetch = rpcUrl === undefined ? base : async (input, init) => {
    const res = await base(input, init)
    const header = !prepared && res.status === 402 ? res.headers.get('payment-required') : null
    if (header) {
      prepared = true
      try {
        ready = await preparePermit2(account, rpcUrl, decodePaymentRequiredHeader(header).accepts.filter(approvable))
      } catch {
        ready = new Set()
      }
    }
    return res
  }
  const signer = toClientEvmSigner(account, rpcUrl === undefined ? undefined : createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) }))
  const client = new x402Client().register('eip155:*', new UptoEvmScheme(signer)).register('eip155:*', new ExactEvmScheme(account)).setSpendControls(false)
  for (const n of NETWORKS) client.registerV1(n, new ExactEvmSchemeV1(account))
  return { client, fetch: fetchPreparingPermit2, uptoReady: (r: PaymentRequirements) => ready.has(permit2Key(r)) }
}

export async function payRequest(req: PayRequest): Promise<PayResult> {
  let chosen: AnyRequirements | undefined
  let refused: string | undefined
  const { client, fetch: preparing, uptoReady } = payingClient(req.account, req.rpcUrl, req.fetch)
  client
    .registerPolicy((_v, reqs) => reqs.filter((r) => r.scheme !== 'upto' || uptoReady(r)))
    .registerPolicy((_v, reqs) => reqs.filter((r) => {
      const a = r as AnyRequirements
      const ok = amountOf(a) <= toAtomic(req.maxAmount, assetDecimals(a.network, a.asset), '--max-amount')
      if (!ok) refused = `${formatAtomic(amountOf(a), assetDecimals(a.network, a.asset))} on ${a.network}`
      return ok
    }))
    .onAfterPaymentCreation(async (ctx) => { chosen = ctx.selectedRequirements as AnyRequirements })
  const pay = wrapFetchWithPayment(preparing, client)
  let res: Response
  try {
    res = await pay(req.url, { method: req.method ?? (req.body === undefined ? 'GET' : 'POST'), headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }) })
  } catch (err) {
    if (refused) throw new PaymentRefusedError(`The price (${refused}) is above --max-amount ${req.maxAmount}.`, { hint: 'Raise --max-amount if you mean to pay that much.' })
    const msg = (err as Error).message
    throw new BaseError(`The request to ${new URL(req.url).origin} failed: ${msg}.`, { hint: 'Check the URL and that the server is running.', cause: err })
  }
  const headers = Object.fromEntries(res.headers)
  const raw = res.headers.get('payment-response') ?? res.headers.get('x-payment-response')
  let receipt: PayReceipt | undefined
  if (raw && chosen) {
    const r = decodePaymentResponseHeader(raw)
    const max = amountOf(chosen).toString()
    receipt = {
      success: r.success, transaction: r.transaction, network: r.network, payer: r.payer, scheme: chosen.scheme,
      amount: chargedAmount(chosen.scheme, r.amount, BigInt(max)).toString(), maxAmount: max, asset: chosen.asset, decimals: assetDecimals(chosen.network, chosen.asset),
    }
  }
  return { status: res.status, headers, body: await res.text(), receipt }
}
