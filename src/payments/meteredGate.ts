/**
 * The paid flow for inference requests (the gateway has read, validated and priced the body: ctx.inference).
 * The 402 offers `upto` (Permit2, perMTok offers with a settler address for the witness) and `exact`, both for
 * this request's maximum. A payment is matched on scheme, verified for the maximum, locked in the ledger, and the
 * upstream's answer goes through the response meter:
 *   upto: settle the metered cost, (prompt + completion tokens) x price, never above the maximum; an abandoned
 *         stream pays for the tokens delivered;
 *   exact: settle the maximum when the response completed, nothing when it was abandoned.
 * JSON answers are settled before they are sent (receipt header); streams settle after their last chunk (receipt
 * in a trailer and a final SSE comment). Authorised and charged amounts and the tokens are recorded per payment.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream'
import type { PaymentRequirements } from '@x402/core/types'
import type { ChallengeContext, PaidContext, UpstreamResponse } from '../gateway/createGateway.ts'
import { UpstreamError } from '../gateway/createGateway.ts'
import type { ResponseMeter } from '../inference/prepareInference.ts'
import type { TokenUsage } from '../inference/metering.ts'
import type { FacilitatorRegistry } from './facilitators/registry.ts'
import { FacilitatorUnavailableError, type Facilitator } from './facilitators/types.ts'
import type { Ledger } from './ledger/types.ts'
import { fromFacilitator, refusal, unavailable, type Refusal } from './reasons.ts'
import { openPaidUpstream } from './openPaidUpstream.ts'
import { settleRow, type PaymentsLog, type SettlementQueue, type SettleOutcome, type SettleRow } from './settlement.ts'
import { exactV1, matchMeteredPayment, meteredAccepts, meteredReceipt, type InferencePayment } from './upto.ts'

export type MeteredGateOptions = {
  ledger: Ledger
  facilitators: Pick<FacilitatorRegistry, 'facilitatorFor'>
  queue: SettlementQueue
  log: PaymentsLog
}

const EXPOSE = 'PAYMENT-RESPONSE, X-PAYMENT-RESPONSE'
const SETTLE_LEASE_MS = 120_000

/** Forwards what the meter returns; ends with what it flushes. */
class MeterStream extends Transform {
  constructor(private readonly meter: ResponseMeter) { super() }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = this.meter.push(chunk)
    cb(null, out.length ? out : undefined)
  }
  override _flush(cb: TransformCallback): void {
    const out = this.meter.flush()
    cb(null, out.length ? out : undefined)
  }
}

export type MeteredGate = {
  handle(ctx: PaidContext): Promise<void>
  handleUnpaid(ctx: ChallengeContext): Promise<void>
}

export function createMeteredGate(opts: MeteredGateOptions): MeteredGate {
  const { ledger, queue, log } = opts

  const facilitatorOf = (ctx: ChallengeContext) => {
    const route = ctx.paymentRequired.accepts[0]
    return route && opts.facilitators.facilitatorFor(route.network, ctx.route.offer.resolved.offer)
  }
  /** This request's requirements: upto + exact for perMTok prices (when the facilitator can settle upto), else exact. */
  const acceptsFor = (ctx: ChallengeContext, fac: Facilitator | undefined): PaymentRequirements[] => {
    const settler = ctx.route.price.unit === 'perMTok' ? fac?.uptoSettler(ctx.paymentRequired.accepts[0]!.network) : undefined
    return meteredAccepts(ctx.paymentRequired.accepts[0]!, ctx.inference!.maxAmount, settler)
  }

  /** Settle `amount` of a locked payment now (the queue keeps away meanwhile). */
  async function charge(offer: string, fac: Facilitator, p: InferencePayment, id: number, usage: TokenUsage, amount: bigint): Promise<SettleOutcome | undefined> {
    const requirements = JSON.stringify(p.scheme === 'upto' ? { ...p.requirements, amount: amount.toString() } : p.requirements)
    await ledger.recordUsage?.(id, { chargedAmount: amount, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, requirements })
    if (amount === 0n) { await ledger.markNotCharged(id, 'nothing_delivered'); return undefined }
    const row: SettleRow = {
      id, offer, payload: JSON.stringify(p.payload), requirements, validBefore: p.validBefore, amount,
      network: p.accepted.network, asset: p.accepted.asset, payer: p.payer, nonce: p.nonce, txHash: undefined, attempts: 0,
    }
    await ledger.markSettling(id, Date.now() + SETTLE_LEASE_MS)
    return queue.exclusive(id, () => settleRow(ledger, fac, row, log))
  }

  return {
    async handleUnpaid(ctx) {
      if (!ctx.inference) { ctx.challenge(); return }
      ctx.challenge(undefined, undefined, acceptsFor(ctx, facilitatorOf(ctx)))
    },

    async handle(ctx) {
      const prep = ctx.inference!
      const fac = facilitatorOf(ctx)
      const accepts = acceptsFor(ctx, fac)
      const refuse = (r: Refusal) => {
        if (r.status === 503) ctx.sendJson(503, { error: r.reason, message: r.message, hint: 'No payment was taken. Retry later.' }, { 'retry-after': String(r.retryAfterSeconds ?? 5) })
        else ctx.challenge(r.reason, { reason: r.reason, message: r.message }, accepts)
      }
      if (!fac) { refuse(unavailable(`No payment facilitator is configured for ${accepts[0]!.network}.`, 30)); return }
      const m = matchMeteredPayment(ctx.payment, { ...ctx.paymentRequired, accepts }, exactV1(ctx.paymentRequirementsV1, accepts))
      if (!m.ok) { refuse(m.refusal); return }
      const p = m.payment

      let verdict
      try {
        verdict = await fac.verify(p.payload, p.requirements)
      } catch (err) {
        if (!(err instanceof FacilitatorUnavailableError)) throw err
        refuse(unavailable('The payment facilitator is unavailable, so the payment could not be checked.'))
        return
      }
      if (!verdict.isValid) { refuse(fromFacilitator(verdict.invalidReason, verdict.invalidMessage)); return }

      const lock = await ledger.recordVerified({
        offer: ctx.route.offer.key, route: ctx.route.spec?.path, resource: ctx.paymentRequired.resource.url, network: p.accepted.network,
        asset: p.accepted.asset, payer: p.payer, payTo: p.accepted.payTo, nonce: p.nonce, amount: prep.maxAmount,
        validBefore: p.validBefore, x402Version: p.version, payload: JSON.stringify(p.payload),
        requirements: JSON.stringify(p.requirements), facilitator: fac.id, settlement: 'onSuccess',
      })
      if (!lock.ok) { refuse(refusal('invalid_exact_evm_nonce_already_used', 'This payment authorization has already been used; sign a new one.')); return }
      const id = lock.id

      const up = await openPaidUpstream(ctx, ledger, id)
      if (!up) return
      const meter = prep.meter()
      const sse = String(up.headers['content-type'] ?? '').includes('text/event-stream')
      if (sse) await streamed(ctx, up, meter, fac, p, id)
      else await buffered(ctx, up, meter, fac, p, id, refuse)
    },
  }

  /** A JSON answer: read it through the meter, settle, then send it with the receipt. */
  async function buffered(ctx: PaidContext, up: UpstreamResponse, meter: ResponseMeter, fac: Facilitator, p: InferencePayment, id: number, refuse: (r: Refusal) => void): Promise<void> {
    const chunks: Uint8Array[] = []
    try {
      for await (const c of up.body) {
        if (ctx.res.destroyed) break
        chunks.push(meter.push(c as Buffer))
      }
      chunks.push(meter.flush())
    } catch {
      await ledger.markNotCharged(id, 'upstream_body_error')
      ctx.sendUpstreamError(new UpstreamError('connect', ctx.route.offer.key))
      return
    }
    if (ctx.res.destroyed) { up.body.destroy(); await ledger.markNotCharged(id, 'client_gone'); return }
    const { usage, amount } = meter.settle(p.scheme, true)
    const out = await charge(ctx.route.offer.key, fac, p, id, usage, amount)
    const replay = { ...up, body: Readable.from([Buffer.concat(chunks)]) }
    if (out === undefined || out.kind === 'retry') {
      await ctx.sendUpstream(replay, { 'access-control-expose-headers': EXPOSE })
    } else if (out.kind === 'settled') {
      const [name, value] = meteredReceipt(p.version, out.response, amount)
      await ctx.sendUpstream(replay, { [name]: value, 'access-control-expose-headers': EXPOSE })
    } else {
      refuse(out.kind === 'expired' ? fromFacilitator('invalid_exact_evm_payload_authorization_valid_before', undefined) : fromFacilitator(out.reason, out.message))
    }
  }

  /** An event stream: forward as it comes through the meter; settle after the last chunk, or for what was delivered. */
  async function streamed(ctx: PaidContext, up: UpstreamResponse, meter: ResponseMeter, fac: Facilitator, p: InferencePayment, id: number): Promise<void> {
    const name = p.version === 2 ? 'PAYMENT-RESPONSE' : 'X-PAYMENT-RESPONSE'
    const body = up.body.pipe(new MeterStream(meter))
    up.body.once('error', (err) => body.destroy(err))
    body.once('close', () => { if (!up.body.readableEnded) up.body.destroy() })
    let charged = false
    const result = await ctx.sendUpstream({ ...up, body }, { trailer: name, 'access-control-expose-headers': EXPOSE }, async () => {
      if (ctx.res.destroyed) throw new Error('client gone')
      charged = true
      const { usage, amount } = meter.settle(p.scheme, true)
      const out = await charge(ctx.route.offer.key, fac, p, id, usage, amount)
      if (out?.kind !== 'settled') {
        ctx.res.write(`: x402 settlement ${out === undefined ? 'none' : out.kind === 'retry' ? 'pending' : `failed ${out.kind === 'failed' ? out.reason : 'expired'}`}\n\n`)
        return {}
      }
      const [, value] = meteredReceipt(p.version, out.response, amount)
      ctx.res.write(`: x402 ${name.toLowerCase()} ${value}\n\n`)
      return { [name]: value }
    })
    if (charged) return
    if (result === 'client-gone') {
      // the buyer hung up: upto pays for the tokens delivered, exact pays nothing
      const { usage, amount } = meter.settle(p.scheme, false)
      const out = await charge(ctx.route.offer.key, fac, p, id, usage, amount)
      if (out && out.kind !== 'settled') log.warn('Failed to settle an abandoned stream', { id, offer: ctx.route.offer.key, outcome: out.kind })
      return
    }
    await ledger.markNotCharged(id, 'upstream_stream_error')
  }
}
