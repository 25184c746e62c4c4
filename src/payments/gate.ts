/**
 * The paid-request flow behind the gateway's PaymentGate seam:
 * decode + match → verify → ledger lock on (network, asset, payer, nonce) + record → proxy →
 * upstream < 400: settle, then answer with the receipt; upstream >= 400, error, timeout or client gone: not charged.
 * Event streams go out at once and settle when they complete (receipt in a trailer and a final SSE comment).
 * Optimistic offers answer right after the upstream and settle from the queue, up to a per-payer cap.
 * Fail closed: every doubt is a 402 with a reason, or a 503 when the facilitator cannot be reached.
 */
import { Readable } from 'node:stream'
import type { SettleResponse } from '@x402/core/types'
import type { PaidContext, PaymentGate, UpstreamResponse } from '../gateway/createGateway.ts'
import { UpstreamError } from '../gateway/createGateway.ts'
import type { FacilitatorRegistry } from './facilitators/registry.ts'
import { FacilitatorUnavailableError, type Facilitator, type Verdict } from './facilitators/types.ts'
import type { Ledger } from './ledger/types.ts'
import { fromFacilitator, refusal, unavailable, type Refusal } from './reasons.ts'
import { openPaidUpstream } from './openPaidUpstream.ts'
import { settleRow, type PaymentsLog, type SettlementQueue, type SettleOutcome, type SettleRow } from './settlement.ts'
import { matchPayment, receiptHeader, type MatchedPayment } from './wire.ts'
import { createMeteredGate } from './meteredGate.ts'

export type PaymentGateOptions = {
  ledger: Ledger
  facilitators: Pick<FacilitatorRegistry, 'facilitatorFor'>
  queue: SettlementQueue
  log: PaymentsLog
  /** Largest owed-but-unsettled amount per payer under optimistic settlement (default: one whole token). */
  optimisticCap?: (decimals: number) => bigint
  /** Responses without Content-Length or larger than this are streamed and settled at the end (default 16 MiB). */
  maxBufferedBytes?: number
}

const EXPOSE = 'PAYMENT-RESPONSE, X-PAYMENT-RESPONSE'
/** How long the caller's own settle attempt keeps the queue away from the row. */
const SETTLE_LEASE_MS = 120_000

function refuse(ctx: PaidContext, r: Refusal): void {
  if (r.status === 503) {
    ctx.sendJson(503, { error: r.reason, message: r.message, hint: 'No payment was taken. Retry later.' }, { 'retry-after': String(r.retryAfterSeconds ?? 5) })
  } else {
    ctx.challenge(r.reason, { reason: r.reason, message: r.message })
  }
}

/**
 * Read a body up to `max` bytes. `complete` false: the body is longer; `rest` then yields what was read and the
 * remainder, so it can still be streamed.
 */
async function readUpTo(body: Readable, max: number): Promise<{ complete: true; data: Buffer } | { complete: false; rest: Readable }> {
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const { value, done } = await it.next()
    if (done) return { complete: true, data: Buffer.concat(chunks) }
    chunks.push(value)
    size += value.length
    if (size > max) {
      const rest = Readable.from((async function* () {
        yield* chunks
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value
      })())
      rest.once('close', () => body.destroy())
      return { complete: false, rest }
    }
  }
}

export function createPaymentGate(opts: PaymentGateOptions): PaymentGate {
  const { ledger, queue, log } = opts
  const maxBuffered = opts.maxBufferedBytes ?? 16 * 1024 * 1024
  const capFor = opts.optimisticCap ?? ((decimals: number) => 10n ** BigInt(decimals))

  /** Settle in the caller (the queue keeps away meanwhile). */
  async function settleNow(fac: Facilitator, row: SettleRow): Promise<SettleOutcome> {
    await ledger.markSettling(row.id, Date.now() + SETTLE_LEASE_MS)
    return queue.exclusive(row.id, () => settleRow(ledger, fac, row, log))
  }

  /** Owed now, settled by the queue (optimistic). */
  async function owe(id: number): Promise<void> {
    // leased like settleNow: this process's queue takes it at once (submit ignores the due time); another
    // replica sharing the ledger only after the lease, so one payment is never settled by two replicas
    await ledger.markSettling(id, Date.now() + SETTLE_LEASE_MS)
    queue.submit(id)
  }

  /**
   * The verdict's deferred on-chain check (Verdict.chainCheck), run at most once; false after refusing the request.
   */
  async function confirmed(ctx: PaidContext, verdict: Verdict): Promise<boolean> {
    const check = verdict.chainCheck
    if (!check) return true
    delete verdict.chainCheck
    let v
    try {
      v = await check()
    } catch (err) {
      if (!(err instanceof FacilitatorUnavailableError)) throw err
      refuse(ctx, unavailable(`The payment facilitator is unavailable, so the payment could not be checked.`))
      return false
    }
    if (!v.isValid) refuse(ctx, fromFacilitator(v.invalidReason, v.invalidMessage))
    return v.isValid
  }

  const metered = createMeteredGate({ ledger, facilitators: opts.facilitators, queue, log })
  const receiptFor = (p: MatchedPayment, res: SettleResponse) => receiptHeader(p.version, { ...res, network: (p.version === 1 ? p.requirements.network : res.network) })

  return {
    handleUnpaid: (ctx) => metered.handleUnpaid(ctx),
    async handle(ctx) {
      if (ctx.inference) { await metered.handle(ctx); return }
      const m = matchPayment(ctx.payment, ctx.paymentRequired, ctx.paymentRequirementsV1)
      if (!m.ok) { refuse(ctx, m.refusal); return }
      const p = m.payment
      const resolved = ctx.route.offer.resolved
      const caip2 = p.accepted.network
      const fac = opts.facilitators.facilitatorFor(caip2, resolved.offer)
      if (!fac) { refuse(ctx, unavailable(`No payment facilitator is configured for ${caip2}.`, 30)); return }

      let verdict
      try {
        verdict = await fac.verify(p.payload, p.requirements, { deferChainCheck: true })
      } catch (err) {
        if (!(err instanceof FacilitatorUnavailableError)) throw err
        log.warn('Refused payment: facilitator unavailable', { offer: ctx.route.offer.key, facilitator: fac.id })
        refuse(ctx, unavailable(`The payment facilitator is unavailable, so the payment could not be checked.`))
        return
      }
      if (!verdict.isValid) { refuse(ctx, fromFacilitator(verdict.invalidReason, verdict.invalidMessage)); return }

      const amount = BigInt(p.accepted.amount)
      let optimistic = resolved.offer.spec.payment.settlement === 'optimistic'
      if (optimistic && (await ledger.unsettledAmount(caip2, p.accepted.asset, p.auth.from)) + amount > capFor(resolved.asset.decimals)) optimistic = false
      // Anything sent before the settlement needs the on-chain check done: optimistic answers at once; streams are
      // confirmed below, before their first byte; a buffered answer waits for its settlement, which checks it anyway.
      if (optimistic && !(await confirmed(ctx, verdict))) return
      const record = {
        offer: ctx.route.offer.key, route: ctx.route.spec?.path, resource: ctx.paymentRequired.resource.url, network: caip2,
        asset: p.accepted.asset, payer: p.auth.from, payTo: p.accepted.payTo, nonce: p.auth.nonce, amount,
        validBefore: Number(p.auth.validBefore), x402Version: p.version, payload: JSON.stringify(p.payload),
        requirements: JSON.stringify(p.requirements), facilitator: fac.id, settlement: optimistic ? 'optimistic' as const : 'onSuccess' as const,
      }
      const lock = await ledger.recordVerified(record)
      if (!lock.ok) { refuse(ctx, refusal('invalid_exact_evm_nonce_already_used', 'This payment authorization has already been used; sign a new one.')); return }
      const id = lock.id
      const row: SettleRow = { ...record, id, txHash: undefined, attempts: 0 }

      const up = await openPaidUpstream(ctx, ledger, id)
      if (!up) return

      const sse = String(up.headers['content-type'] ?? '').includes('text/event-stream')
      const unconfirmed = async (body: Readable) => { body.destroy(); await ledger.markNotCharged(id, 'payment_not_confirmed_on_chain') }
      if (sse || Number(up.headers['content-length'] ?? 0) > maxBuffered) {
        if (!(await confirmed(ctx, verdict))) { await unconfirmed(up.body); return }
        await streamed(ctx, up, p, fac, row, optimistic, sse)
        return
      }
      let read
      try {
        read = await readUpTo(up.body, maxBuffered)
      } catch {
        await ledger.markNotCharged(id, 'upstream_body_error')
        ctx.sendUpstreamError(new UpstreamError('connect', ctx.route.offer.key))
        return
      }
      if (!read.complete) {
        if (!(await confirmed(ctx, verdict))) { await unconfirmed(read.rest); return }
        await streamed(ctx, { ...up, body: read.rest }, p, fac, row, optimistic, false)
        return
      }
      const body = read.data
      if (ctx.res.destroyed) { await ledger.markNotCharged(id, 'client_gone'); return }
      const replay = { ...up, body: Readable.from([body]) }
      if (optimistic) {
        await owe(id)
        await ctx.sendUpstream(replay, { 'access-control-expose-headers': EXPOSE })
        return
      }
      const out = await settleNow(fac, row)
      if (out.kind === 'settled') {
        const [name, value] = receiptFor(p, out.response)
        await ctx.sendUpstream(replay, { [name]: value, 'access-control-expose-headers': EXPOSE })
      } else if (out.kind === 'retry') {
        // owed and queued (the chain could not be reached, or the transaction is pending): the settlement may already
        // be out, so the buyer gets what it paid for; the queue settles it or records why not
        await ctx.sendUpstream(replay, { 'access-control-expose-headers': EXPOSE })
      } else {
        const r = out.kind === 'expired' ? fromFacilitator('invalid_exact_evm_payload_authorization_valid_before', undefined) : fromFacilitator(out.reason, out.message)
        refuse(ctx, r)
      }
    },
  }

  /** Stream at once; settle when the body has completed; the receipt goes in a trailer (and an SSE comment). */
  async function streamed(ctx: PaidContext, up: UpstreamResponse, p: MatchedPayment, fac: Facilitator, row: SettleRow, optimistic: boolean, sse: boolean): Promise<void> {
    const name = p.version === 2 ? 'PAYMENT-RESPONSE' : 'X-PAYMENT-RESPONSE'
    let owed = false
    const result = await ctx.sendUpstream(up, { trailer: name, 'access-control-expose-headers': EXPOSE }, async () => {
      if (ctx.res.destroyed) throw new Error('client gone')
      owed = true
      if (optimistic) {
        await owe(row.id)
        return {}
      }
      const out = await settleNow(fac, row)
      if (out.kind !== 'settled') {
        if (sse) ctx.res.write(`: x402 settlement ${out.kind === 'retry' ? 'pending' : `failed ${out.kind === 'failed' ? out.reason : 'expired'}`}\n\n`)
        return {}
      }
      const [, value] = receiptFor(p, out.response)
      if (sse) ctx.res.write(`: x402 ${name.toLowerCase()} ${value}\n\n`)
      return { [name]: value }
    })
    if (!owed) await ledger.markNotCharged(row.id, result === 'client-gone' ? 'client_gone' : 'upstream_stream_error')
  }
}
