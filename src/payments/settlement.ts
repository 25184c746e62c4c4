/**
 * Settling one ledger row, and the queue that retries owed settlements until their authorisation expires, also
 * after a crash: a row is marked `settling` before any settle call and the transaction hash is stored before it is
 * broadcast, so a restarted daemon first looks on chain (pending transaction, authorizationState, receipt) and only
 * sends again when the authorisation is still unused. The token contract itself refuses a second use.
 */
import type { PaymentPayload, PaymentRequirements, SettleResponse } from '@x402/core/types'
import { FacilitatorUnavailableError, type Facilitator } from './facilitators/types.ts'
import type { Ledger, PaymentRecord } from './ledger/types.ts'
import { isTransientSettleFailure, refineReason } from './reasons.ts'
import { chargedAmount } from './upto.ts'

export type PaymentsLog = {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

export type SettleOutcome =
  | { kind: 'settled'; response: SettleResponse }
  | { kind: 'failed'; reason: string; message: string | undefined; response: SettleResponse | undefined }
  | { kind: 'retry'; reason: string }
  | { kind: 'expired' }

/** What settling a ledger row needs. */
export type SettleRow = Pick<PaymentRecord, 'id' | 'payload' | 'requirements' | 'validBefore' | 'amount' | 'network' | 'asset' | 'payer' | 'nonce' | 'txHash' | 'attempts' | 'offer'>

const EXPIRED = 'invalid_exact_evm_payload_authorization_valid_before'

/** Next attempt: 1 s, 2 s, 4 s ... capped at 60 s and never past the authorisation's expiry. */
export function backoffMs(attempts: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.min(attempts, 6))
}

export async function settleRow(ledger: Ledger, fac: Facilitator, row: SettleRow, log: PaymentsLog): Promise<SettleOutcome> {
  const payload = JSON.parse(row.payload) as PaymentPayload
  const requirements = JSON.parse(row.requirements) as PaymentRequirements
  const retry = async (reason: string): Promise<SettleOutcome> => {
    const at = Date.now() + backoffMs(row.attempts)
    if (at >= row.validBefore * 1000) {
      // one last look happens in recovery; the queue marks it expired when the window has passed
      await ledger.scheduleRetry(row.id, reason, row.validBefore * 1000)
    } else await ledger.scheduleRetry(row.id, reason, at)
    log.warn('Deferred settlement', { id: row.id, offer: row.offer, reason })
    return { kind: 'retry', reason }
  }
  let res: SettleResponse
  try {
    res = await fac.settle(payload, requirements, { onTxHash: (h) => ledger.setTxHash(row.id, h) })
  } catch (err) {
    return retry(err instanceof FacilitatorUnavailableError ? 'facilitator_unavailable' : `settle_error: ${(err as Error).message}`)
  }
  if (res.success) {
    // upto settles less than authorised: the facilitator's answer says how much
    await ledger.markSettled(row.id, res.transaction, chargedAmount(requirements.scheme, res.amount, row.amount))
    log.info('Settled payment', { id: row.id, offer: row.offer, tx: res.transaction })
    return { kind: 'settled', response: res }
  }
  const reason = refineReason(res.errorReason, res.errorMessage)
  if (isTransientSettleFailure(reason)) return retry(reason)
  if (reason === EXPIRED || reason === 'permit2_deadline_expired') {
    await ledger.markExpired(row.id)
    return { kind: 'expired' }
  }
  await ledger.markFailed(row.id, res.errorMessage ? `${reason}: ${res.errorMessage}` : reason)
  log.warn('Failed settlement', { id: row.id, offer: row.offer, reason })
  return { kind: 'failed', reason, message: res.errorMessage, response: res }
}

/**
 * Settle an owed row found in the ledger (retry or recovery). With chain access, an earlier attempt is looked up
 * first: a mined transaction completes the row, a pending one is waited for, and a used authorisation is never sent again.
 */
export async function recoverRow(ledger: Ledger, fac: Facilitator, row: SettleRow, log: PaymentsLog): Promise<SettleOutcome> {
  const requirements = JSON.parse(row.requirements) as { scheme?: string; amount?: string }
  // upto settles the amount used (in the requirements since recordUsage), not the authorised maximum
  const charged = requirements.scheme === 'upto' && requirements.amount !== undefined ? BigInt(requirements.amount) : row.amount
  const chain = fac.chain
  if (chain) {
    try {
      const receipt = row.txHash ? await chain.receipt(row.txHash) : undefined
      if (row.txHash && !receipt && await chain.isKnown(row.txHash)) {
        await ledger.scheduleRetry(row.id, 'settlement transaction pending', Date.now() + 1000)
        return { kind: 'retry', reason: 'settlement_pending' }
      }
      if (await chain.authorizationUsed(row.asset, row.payer, row.nonce, requirements.scheme)) {
        if (row.txHash && receipt?.success) {
          await ledger.markSettled(row.id, row.txHash, charged)
          log.info('Settled payment from an earlier attempt', { id: row.id, offer: row.offer, tx: row.txHash })
          return { kind: 'settled', response: { success: true, transaction: row.txHash, network: row.network as SettleResponse['network'], payer: row.payer } }
        }
        // used, but not by a transaction we know of (e.g. the payer cancelled it): nothing more can be collected
        await ledger.markFailed(row.id, 'invalid_exact_evm_nonce_already_used: the authorization was used outside this settlement')
        return { kind: 'failed', reason: 'invalid_exact_evm_nonce_already_used', message: undefined, response: undefined }
      }
    } catch (err) {
      await ledger.scheduleRetry(row.id, `chain_unavailable: ${(err as Error).message}`, Date.now() + backoffMs(row.attempts))
      return { kind: 'retry', reason: 'chain_unavailable' }
    }
  }
  if (Date.now() >= row.validBefore * 1000) {
    await ledger.markExpired(row.id)
    log.warn('Expired unsettled payment', { id: row.id, offer: row.offer })
    return { kind: 'expired' }
  }
  return settleRow(ledger, fac, row, log)
}

export type SettlementQueue = {
  /** Release rows left 'verified' by a dead process, then work through owed settlements. */
  start(): Promise<void>
  stop(): Promise<void>
  /** Settle this row now, in the background (optimistic settlement, or a caller that does not wait). */
  submit(id: number): void
  /** Run a settlement in the caller, excluding the queue from this row meanwhile. */
  exclusive<T>(id: number, fn: () => Promise<T>): Promise<T>
}

export function createSettlementQueue(opts: {
  ledger: Ledger
  facilitatorFor: (row: PaymentRecord) => Facilitator | undefined
  log: PaymentsLog
  intervalMs?: number
}): SettlementQueue {
  const { ledger, log } = opts
  const inFlight = new Set<number>()
  const running = new Set<Promise<unknown>>()
  let timer: NodeJS.Timeout | undefined
  let stopped = true
  let recoverAll = true

  const track = (p: Promise<unknown>) => { running.add(p); p.finally(() => running.delete(p)).catch(() => {}) }

  async function work(row: PaymentRecord): Promise<void> {
    const fac = opts.facilitatorFor(row)
    if (!fac) {
      await ledger.scheduleRetry(row.id, `no facilitator ${row.facilitator} for ${row.network}`, Date.now() + 60_000)
      return
    }
    await recoverRow(ledger, fac, row, log)
  }

  async function tick(): Promise<void> {
    timer = undefined
    if (stopped) return
    try {
      const due = await ledger.dueSettlements(recoverAll ? Number.MAX_SAFE_INTEGER : Date.now(), 64)
      recoverAll = false
      for (const row of due) {
        if (inFlight.has(row.id)) continue
        inFlight.add(row.id)
        track(work(row).catch((err) => log.error('Settlement attempt crashed', { id: row.id, error: (err as Error).message })).finally(() => inFlight.delete(row.id)))
      }
    } catch (err) {
      log.error('Settlement queue pass failed', { error: (err as Error).message })
    }
    if (!stopped) timer = setTimeout(() => void tick(), opts.intervalMs ?? 1000)
  }

  return {
    async start() {
      const released = await ledger.releaseAbandoned('not_charged: the request was still being served when the daemon stopped')
      if (released) log.info('Released payments of interrupted requests', { count: released })
      stopped = false
      recoverAll = true
      await tick()
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      timer = undefined
      await Promise.allSettled([...running])
    },
    submit(id) {
      if (inFlight.has(id)) return
      inFlight.add(id)
      track((async () => {
        const row = await ledger.get(id)
        if (row && row.status === 'settling') await work(row)
      })().catch((err) => log.error('Settlement attempt crashed', { id, error: (err as Error).message })).finally(() => inFlight.delete(id)))
    },
    async exclusive(id, fn) {
      inFlight.add(id)
      try { return await fn() } finally { inFlight.delete(id) }
    },
  }
}
