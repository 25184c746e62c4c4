/**
 * The demo's two calls and the chain reads around them: an unpaid call (the 402 and its requirements) and a paid call
 * by the dev buyer with both USDC balances read before and after. Kept apart from runDemo.ts because viem and the x402
 * SDK take seconds to load: runDemo loads this module while the stack starts.
 */
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { privateKeyToAccount } from 'viem/accounts'
import { fundUsdc, usdcBalance, type DevChainInfo } from '../devchain/devChain.ts'
import { payRequest, type PayReceipt } from '../payments/buyer.ts'
import { DemoCallFailedError } from './errors.ts'

export { ensureDevChain, readDevChain } from '../devchain/devChain.ts'

/** GET `url` without paying: the first x402 v2 payment requirement of its 402 answer. */
export async function unpaidCall(url: string): Promise<{ status: number; requirements: PaymentRequirements }> {
  const res = await fetch(url)
  const header = res.headers.get('payment-required')
  await res.body?.cancel()
  const requirements = header ? decodePaymentRequiredHeader(header).accepts[0] : undefined
  if (res.status !== 402 || !requirements) {
    throw new DemoCallFailedError({ what: `unpaid call to ${url}`, status: res.status, detail: 'expected 402 with a PAYMENT-REQUIRED header' })
  }
  return { status: res.status, requirements }
}

export type Balances = { before: bigint; after: bigint }

export type PaidCall = {
  status: number
  body: string
  receipt: PayReceipt
  buyer: { address: string } & Balances
  seller: { address: string } & Balances
}

/**
 * GET `url` paying at most `price` (atomic) as the dev buyer; `payTo`'s and the buyer's balances are read on the
 * chain before and after (the payment is settled before the answer arrives). A dev buyer short of USDC is topped up.
 */
export async function paidCall(chain: DevChainInfo, url: string, payTo: string, price: { decimal: string; atomic: bigint }, progress: (line: string) => void): Promise<PaidCall> {
  const account = privateKeyToAccount(chain.buyer.privateKey)
  let [buyerBefore, sellerBefore] = await Promise.all([usdcBalance(chain, account.address), usdcBalance(chain, payTo)])
  if (buyerBefore < price.atomic) {
    progress(`Topping up the dev buyer ${account.address} with 1 test USDC...`)
    await fundUsdc(chain, account.address, '1')
    ;[buyerBefore, sellerBefore] = await Promise.all([usdcBalance(chain, account.address), usdcBalance(chain, payTo)])
  }
  const r = await payRequest({ url, account, maxAmount: price.decimal })
  if (r.status !== 200 || !r.receipt?.success) {
    throw new DemoCallFailedError({ what: `paid call to ${url}`, status: r.status, detail: r.status === 200 ? 'no settled payment receipt' : r.body.slice(0, 200) })
  }
  const [buyerAfter, sellerAfter] = await Promise.all([usdcBalance(chain, account.address), usdcBalance(chain, payTo)])
  return {
    status: r.status, body: r.body, receipt: r.receipt,
    buyer: { address: account.address, before: buyerBefore, after: buyerAfter },
    seller: { address: payTo, before: sellerBefore, after: sellerAfter },
  }
}
