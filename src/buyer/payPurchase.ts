/**
 * One request through a purchase, paid with the stack wallet by the official @x402/fetch client (x402 v2 and v1
 * sellers, `exact` on EVM, and `upto` (Permit2) on v2 when the seller offers it and the chain's RPC URL is known).
 * The client's hooks enforce the purchase before anything is signed:
 *   policy                  only the purchase's network, asset and payTo, at most the recorded price (per-token:
 *                           what that price allows for this request's prompt and max_tokens) and maxPerRequest;
 *                           upto only for a token whose Permit2 allowance is ready (else the exact fallback)
 *   onBeforePaymentCreation reserve the amount (the maximum) against the budgets (atomic; refusal = nothing signed)
 *   onAfterPaymentCreation  check the signed authorisation against the reservation and the purchase, and record it
 *                           in the ledger (direction 'spent', status verified) before it is sent
 * After the seller's answer the row is settled (receipt; for upto with the amount the receipt says was charged,
 * and the rest of the reservation is freed), not charged (seller refused or failed, so the reservation is
 * released), or stays verified and counted in full (2xx whose receipt comes at the end of a stream).
 */
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { wrapFetchWithPayment } from '@x402/fetch'
import type { LocalAccount } from 'viem'
import { findChain } from '../offer/networks.ts'
import { formatAtomic, toAtomic } from '../offer/price.ts'
import { payingClient } from '../payments/buyer.ts'
import type { Ledger } from '../payments/ledger/types.ts'
import { chargedAmount, parsePermit2Authorization, UPTO_PROXY_ADDRESS } from '../payments/upto.ts'
import type { BudgetBook, BudgetLimits, BudgetRefusal, Reservation } from './budget.ts'
import { perTokenBound, type PerTokenBound } from './perTokenBound.ts'
import { priceUnit, type Purchase } from './purchaseSchema.ts'

export type PurchaseCall = {
  url: string
  method: string
  headers: Record<string, string>
  body?: Uint8Array | undefined
  signal?: AbortSignal | undefined
}

export type BuyerDeps = {
  ledger: Ledger
  book: BudgetBook
  account: LocalAccount
  /**
   * JSON-RPC URL of the purchase's chain, needed to pay `upto` (Permit2 allowance check and approval); without
   * one the exact fallback is paid.
   */
  rpcUrl?: string | undefined
  fetch?: typeof fetch
}

/** A request the buyer did not (or could not) complete: answered locally; `paid` false means nothing was paid. */
export type LocalRefusal = { status: 402 | 502; code: string; message: string; hint: string; paid: boolean }

export type CallResult =
  | { ok: true; response: Response; paid: bigint; receiptFromStream(value: string): Promise<void> }
  | { ok: false; refusal: LocalRefusal }

/** The ledger's offer column for a purchase's payments. */
export const ledgerOffer = (purchase: string): string => `purchase/${purchase}`

type AnyRequirements = PaymentRequirements & { maxAmountRequired?: string }
const amountOf = (r: AnyRequirements): bigint => BigInt(r.amount ?? r.maxAmountRequired ?? '0')
/** v1 requirements name networks ("base-sepolia"); v2 uses CAIP-2. */
const caip2Of = (network: string): string => (network.includes(':') ? network : findChain(network)?.caip2 ?? network)

export function purchaseLimits(p: Purchase): BudgetLimits & { price: bigint } {
  const d = p.spec.payment.decimals
  const b = p.spec.budget
  return {
    total: toAtomic(b.total, d, 'spec.budget.total'),
    perDay: b.perDay === undefined ? undefined : toAtomic(b.perDay, d, 'spec.budget.perDay'),
    maxPerRequest: toAtomic(b.maxPerRequest, d, 'spec.budget.maxPerRequest'),
    price: toAtomic(p.spec.payment.price, d, 'spec.payment.price'),
  }
}

const fmt = (p: Purchase, amount: bigint) => `${formatAtomic(amount, p.spec.payment.decimals)} ${p.spec.payment.symbol}`
const fileOf = (p: Purchase) => `purchases/${p.metadata.name}.yaml`

/** Refusals reported over another option's (e.g. an upto option the wallet cannot pay yet). */
const OVERRIDING: ReadonlySet<string> = new Set(['price_increased', 'max_tokens_required'])

/** The most one request may be asked at the recorded price (with the token counts for a per-token purchase). */
export type RequestBound = { unit: 'perRequest'; amount: bigint } | ({ unit: 'perMTok' } & PerTokenBound)

/** The most this request may be asked at the recorded price: perRequest the price; perMTok perTokenBound.ts. */
export function requestBound(p: Purchase, call: Pick<PurchaseCall, 'url' | 'body'>, price: bigint): RequestBound {
  if (priceUnit(p) === 'perRequest') return { unit: 'perRequest', amount: price }
  return { unit: 'perMTok', ...perTokenBound({ body: call.body, path: new URL(call.url).pathname, perMTok: price, defaultMaxTokens: p.spec.payment.maxTokens }) }
}

/** Why a seller's payment option does not fit the purchase (undefined: it fits). */
function mismatch(p: Purchase, r: AnyRequirements, limits: ReturnType<typeof purchaseLimits>, bound: RequestBound, uptoReady: (r: PaymentRequirements) => boolean): LocalRefusal | undefined {
  const pay = p.spec.payment
  const no = (code: string, message: string, hint: string): LocalRefusal => ({ status: 402, code, message, hint, paid: false })
  if (r.scheme === 'upto' && !uptoReady(r)) {
    return no('scheme_not_supported', `The seller asks for the "upto" scheme (Permit2), and the stack wallet cannot pay it on ${r.network}: no RPC URL is known for the chain, Permit2 is not approved for ${r.asset}, or the wallet has no ETH to approve it; nothing was paid.`, 'Fund the stack wallet with ETH for one approval, or ask the seller for an exact payment option.')
  }
  if (r.scheme !== 'exact' && r.scheme !== 'upto') return no('scheme_not_supported', `The seller asks for the "${r.scheme}" scheme; this buyer pays "exact" and "upto" only, so nothing was paid.`, 'Ask the seller for an exact payment option.')
  if (caip2Of(r.network) !== pay.network || r.asset.toLowerCase() !== pay.asset.toLowerCase()) {
    return no('network_not_allowed', `The seller asks for payment in ${r.asset} on ${r.network}; purchase ${p.metadata.name} allows only ${pay.asset} on ${pay.network}, so nothing was paid.`, `Run \`vend buy add\` again if the seller moved networks, or edit spec.payment in ${fileOf(p)}.`)
  }
  if (r.payTo.toLowerCase() !== pay.payTo.toLowerCase()) {
    return no('pay_to_changed', `The seller now asks to be paid at ${r.payTo}, not ${pay.payTo} as recorded when purchase ${p.metadata.name} was added, so nothing was paid.`, `If the new recipient is right, run \`vend buy add ${p.spec.seller} --name ${p.metadata.name}\` again.`)
  }
  const amount = amountOf(r)
  if (bound.unit === 'perMTok' && !bound.ok) {
    return no('max_tokens_required', `Purchase ${p.metadata.name} pays per token and this request sets no max_tokens, nor does ${fileOf(p)} record the seller's limit, so nothing bounds its price and nothing was paid.`, `Set max_tokens in the request, or run \`vend buy add ${p.spec.seller} --name ${p.metadata.name}\` again to record the seller's limit.`)
  }
  if (bound.unit === 'perMTok' && amount > bound.amount) {
    return no('price_increased', `The seller asks ${fmt(p, amount)} for this request, more than the ${fmt(p, bound.amount)} allowed for it by the ${fmt(p, limits.price)} per million tokens recorded for purchase ${p.metadata.name} (at most ${bound.promptTokens} prompt tokens + ${bound.maxTokens} max_tokens), so nothing was paid.`, `If the seller raised its price and you accept it, run \`vend buy add ${p.spec.seller} --name ${p.metadata.name}\` again, or edit spec.payment.price in ${fileOf(p)}.`)
  }
  if (bound.unit === 'perRequest' && amount > bound.amount) {
    return no('price_increased', `The seller now asks ${fmt(p, amount)} per request, more than the ${fmt(p, limits.price)} recorded when purchase ${p.metadata.name} was added, so nothing was paid.`, `If you accept the new price, run \`vend buy add ${p.spec.seller} --name ${p.metadata.name} --max-price ${formatAtomic(amount, pay.decimals)}\` again, or edit spec.payment.price in ${fileOf(p)}.`)
  }
  if (amount > limits.maxPerRequest) {
    return no('above_max_per_request', `The seller asks ${fmt(p, amount)} per request, more than purchase ${p.metadata.name}'s maxPerRequest of ${fmt(p, limits.maxPerRequest)}, so nothing was paid.`, `Raise spec.budget.maxPerRequest in ${fileOf(p)}, or run \`vend buy add ... --max-price\` again.`)
  }
  return undefined
}

export function budgetRefusal(p: Purchase, r: BudgetRefusal): LocalRefusal {
  const name = p.metadata.name
  const what = r.budget === 'total' ? 'total budget' : r.budget === 'perDay' ? 'daily budget (UTC day)' : 'maxPerRequest'
  const field = r.budget === 'total' ? 'total' : r.budget
  const flag = r.budget === 'total' ? '--budget' : r.budget === 'perDay' ? '--per-day' : '--max-price'
  const message = r.budget === 'maxPerRequest'
    ? `This request would cost ${fmt(p, r.amount)}, more than purchase ${name}'s maxPerRequest of ${fmt(p, r.limit)}, so nothing was paid.`
    : `Purchase ${name} has used ${fmt(p, r.used)} of its ${fmt(p, r.limit)} ${what}; this request (${fmt(p, r.amount)}) would exceed it, so nothing was paid.`
  return {
    status: 402, code: `budget_${r.budget === 'perDay' ? 'per_day' : r.budget === 'total' ? 'total' : 'max_per_request'}_exceeded`, message, paid: false,
    hint: `Raise it with \`vend buy add ${p.spec.seller} --name ${name} ${flag} <amount>\` or edit spec.budget.${field} in ${fileOf(p)}.`,
  }
}

/** The seller's reason in a 402 answer to our payment (v2 header, else the JSON body). */
async function sellerReason(res: Response): Promise<string> {
  const header = res.headers.get('payment-required')
  let reason: string | undefined
  if (header) { try { reason = decodePaymentRequiredHeader(header).error } catch { /* not decodable */ } }
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown }
    if (typeof body.message === 'string') reason = reason ? `${reason}: ${body.message}` : body.message
    else if (!reason && typeof body.error === 'string') reason = body.error
  } catch { /* not JSON */ }
  return reason ?? 'no reason given'
}

/** What a signed payment authorises: the ledger row's lock (payer, nonce) and validity. */
type Signed = { payer: string; nonce: string; validBefore: number }

/**
 * The signed authorisation of an exact (EIP-3009) or upto (Permit2) payload, checked against the purchase and the
 * reservation: what was signed must be exactly what was reserved, for the purchase's token and recipient, or it is
 * never sent. A string says why it does not fit.
 */
function signedAuthorization(p: Purchase, scheme: string, payload: unknown, reserved: bigint, from: string): Signed | string {
  const pay = p.spec.payment
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
  if (scheme === 'upto') {
    const auth = parsePermit2Authorization(payload)
    if (!auth) return 'the payment payload carries no well-formed Permit2 authorization'
    if (BigInt(auth.permitted.amount) !== reserved) return `the signed amount ${auth.permitted.amount} is not the reserved ${reserved}`
    if (!same(auth.permitted.token, pay.asset)) return `the signed token ${auth.permitted.token} is not the purchase's ${pay.asset}`
    if (!same(auth.witness.to, pay.payTo)) return `the signed recipient ${auth.witness.to} is not the purchase's ${pay.payTo}`
    if (!same(auth.spender, UPTO_PROXY_ADDRESS)) return `the signed spender ${auth.spender} is not the x402 upto Permit2 proxy`
    if (!same(auth.from, from)) return `the signed payer ${auth.from} is not the stack wallet ${from}`
    return { payer: auth.from, nonce: auth.nonce, validBefore: Number(auth.deadline) }
  }
  const auth = (payload as { authorization?: { from: string; to: string; value: string; nonce: string; validBefore: string } }).authorization
  if (!auth) return 'the payment payload carries no EIP-3009 authorization'
  if (BigInt(auth.value) !== reserved) return `the signed amount ${auth.value} is not the reserved ${reserved}`
  if (!same(auth.to, pay.payTo)) return `the signed recipient ${auth.to} is not the purchase's ${pay.payTo}`
  return { payer: auth.from, nonce: auth.nonce, validBefore: Number(auth.validBefore) }
}

export async function callPurchase(p: Purchase, call: PurchaseCall, deps: BuyerDeps): Promise<CallResult> {
  const { ledger, book, account, rpcUrl } = deps
  const key = ledgerOffer(p.metadata.name)
  const limits = purchaseLimits(p)
  const pay = p.spec.payment
  const bound = requestBound(p, call, limits.price)
  await book.ensureLoaded(key)

  let refusal: LocalRefusal | undefined
  let reservation: Reservation | undefined
  let rowId: number | undefined
  let scheme = 'exact'
  // only the purchase's own token on its own network is ever approved for Permit2
  const { client, fetch: preparing, uptoReady } = payingClient(account, rpcUrl, deps.fetch,
    (a) => a.scheme === 'upto' && caip2Of(a.network) === pay.network && a.asset.toLowerCase() === pay.asset.toLowerCase())
  client
    .registerPolicy((_v, reqs) => {
      const fit = reqs.filter((r) => {
        const why = mismatch(p, r as AnyRequirements, limits, bound, uptoReady)
        if (why && (!refusal || OVERRIDING.has(why.code))) refusal = why
        return !why
      })
      if (fit.length) refusal = undefined
      return fit
    })
    .onBeforePaymentCreation(async ({ selectedRequirements }) => {
      const res = book.reserve(key, limits, amountOf(selectedRequirements as AnyRequirements))
      if (!res.ok) {
        refusal = budgetRefusal(p, res)
        return { abort: true, reason: refusal.message }
      }
      reservation = res
      return undefined
    })
    .onAfterPaymentCreation(async ({ paymentPayload, selectedRequirements }) => {
      const r = selectedRequirements as AnyRequirements
      if (caip2Of(r.network) !== pay.network) throw new Error(`the payment is for ${r.network}, not the purchase's ${pay.network}`)
      const signed = signedAuthorization(p, r.scheme, paymentPayload.payload, reservation?.amount ?? -1n, account.address)
      if (typeof signed === 'string') throw new Error(signed)
      scheme = r.scheme
      const rec = await ledger.recordVerified({
        direction: 'spent', offer: key, resource: call.url, network: caip2Of(r.network), asset: r.asset, payer: signed.payer, payTo: r.payTo,
        nonce: signed.nonce, amount: amountOf(r), validBefore: signed.validBefore, x402Version: paymentPayload.x402Version,
        payload: JSON.stringify(paymentPayload), requirements: JSON.stringify(r), facilitator: 'seller', settlement: 'onSuccess',
      })
      if (!rec.ok) throw new Error('the signed authorization is already in the ledger')
      rowId = rec.id
    })

  const payFetch = wrapFetchWithPayment(preparing, client)
  let res: Response
  try {
    res = await payFetch(call.url, {
      method: call.method, headers: call.headers, signal: call.signal,
      ...(call.body === undefined || call.method === 'GET' || call.method === 'HEAD' ? {} : { body: call.body }),
    })
  } catch (err) {
    if (refusal) { reservation?.release(); return { ok: false, refusal } }
    const msg = (err instanceof Error ? err.message : String(err)).replace(/\.$/, '')
    if (rowId === undefined) {
      const signing = reservation !== undefined
      reservation?.release()
      return signing
        ? { ok: false, refusal: { status: 502, code: 'payment_not_created', message: `No payment was sent: ${msg}.`, hint: 'See the reason; the budget was not charged.', paid: false } }
        : { ok: false, refusal: { status: 502, code: 'seller_unreachable', message: `The request to the seller failed: ${msg}; nothing was paid.`, hint: `Check that ${new URL(call.url).origin} is up.`, paid: false } }
    }
    // Signed and maybe delivered: the seller could still settle it, so it keeps counting (in full) against the budget.
    reservation?.commit()
    return { ok: false, refusal: { status: 502, code: 'seller_unreachable_after_payment', message: `The request to the seller failed after the payment was sent: ${msg}; the payment counts against the budget until it is known to be unspent.`, hint: 'Retry later; see `vend buy status`.', paid: true } }
  }

  const none = async () => {}
  if (!reservation || rowId === undefined) return { ok: true, response: res, paid: 0n, receiptFromStream: none }
  const id = rowId
  const held = reservation
  const amount = held.amount
  if (res.status === 402) {
    const reason = await sellerReason(res)
    await ledger.markNotCharged(id, `seller refused the payment: ${reason}`)
    held.release()
    return { ok: false, refusal: { status: 402, code: 'seller_refused_payment', message: `The seller refused the payment (${reason}); nothing was paid.`, hint: 'See the reason; `vend buy status` shows the last error.', paid: false } }
  }
  /** Settle the row from a receipt and count what it says was charged; undefined when it is not a success receipt. */
  const settled = async (raw: string): Promise<bigint | undefined> => {
    let receipt
    try { receipt = decodePaymentResponseHeader(raw) } catch { return undefined }
    if (!receipt.success || !receipt.transaction) return undefined
    const charged = chargedAmount(scheme, (receipt as { amount?: unknown }).amount, amount)
    await ledger.markSettled(id, receipt.transaction, charged)
    held.commit(charged)
    return charged
  }
  const raw = res.headers.get('payment-response') ?? res.headers.get('x-payment-response')
  const charged = raw ? await settled(raw) : undefined
  if (charged !== undefined) return { ok: true, response: res, paid: charged, receiptFromStream: none }
  if (res.status >= 400) {
    // Sellers settle only answers < 400 (x402 onSuccess): this one was not charged.
    await ledger.markNotCharged(id, `seller answered HTTP ${res.status}`)
    held.release()
    return { ok: true, response: res, paid: 0n, receiptFromStream: none }
  }
  // 2xx without a receipt yet: a stream that settles at its end, or settlement queued by the seller. It counts in
  // full until a receipt says what was charged.
  held.commit()
  return { ok: true, response: res, paid: amount, receiptFromStream: async (value) => { await settled(value) } }
}
