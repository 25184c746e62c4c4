/**
 * Paying for one HTTP request as a buyer, with the official @x402/fetch client: x402 v2 (PAYMENT-SIGNATURE) and v1
 * (X-PAYMENT) servers, any EVM network, capped per payment by `maxAmount` (decimal token units, exact).
 */
import { decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { ExactEvmSchemeV1 } from '@x402/evm/exact/v1/client'
import { NETWORKS } from '@x402/evm/v1'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import type { LocalAccount } from 'viem'
import { BaseError } from '../errors/base.ts'
import { findChain } from '../offer/networks.ts'
import { formatAtomic, toAtomic } from '../offer/price.ts'

export type PayRequest = {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: string
  account: LocalAccount
  /** Most one payment may cost, in token units ("0.10"). */
  maxAmount: string
  fetch?: typeof fetch
}

export type PayReceipt = { success: boolean; transaction: string; network: string; payer?: string | undefined; amount: string; asset: string; decimals: number }

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

export async function payRequest(req: PayRequest): Promise<PayResult> {
  let chosen: AnyRequirements | undefined
  let refused: string | undefined
  const client = new x402Client()
    .register('eip155:*', new ExactEvmScheme(req.account))
    .setSpendControls(false)
    .registerPolicy((_v, reqs) => reqs.filter((r) => {
      const a = r as AnyRequirements
      const ok = amountOf(a) <= toAtomic(req.maxAmount, assetDecimals(a.network, a.asset), '--max-amount')
      if (!ok) refused = `${formatAtomic(amountOf(a), assetDecimals(a.network, a.asset))} on ${a.network}`
      return ok
    }))
    .onAfterPaymentCreation(async (ctx) => { chosen = ctx.selectedRequirements as AnyRequirements })
  for (const n of NETWORKS) client.registerV1(n, new ExactEvmSchemeV1(req.account))
  const pay = wrapFetchWithPayment(req.fetch ?? fetch, client)
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
    receipt = {
      success: r.success, transaction: r.transaction, network: r.network, payer: r.payer, amount: amountOf(chosen).toString(),
      asset: chosen.asset, decimals: assetDecimals(chosen.network, chosen.asset),
    }
  }
  return { status: res.status, headers, body: await res.text(), receipt }
}
