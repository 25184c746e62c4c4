/**
 * Budgets, enforced atomically under concurrency. The daemon is the only process that pays for a VEND_HOME, so
 * one in-process book per purchase is the lock: `reserve` runs synchronously (no await between the check and the
 * update), BEFORE anything is signed; the reservation is committed once the payment counts as spent (for what
 * was charged: an upto payment's receipt may charge less than the reserved maximum, and the rest is freed), or
 * released when nothing was paid. Committed spend is loaded once per purchase from the ledger (direction 'spent').
 *
 * Counting rule (shared with `vend buy status`): a spent row counts unless it is known not to have been paid
 * (not_charged, failed, expired); settled rows count their charged amount.
 */
import type { PaymentRecord } from '../payments/ledger/types.ts'

export type BudgetLimits = { total: bigint; perDay: bigint | undefined; maxPerRequest: bigint }
export type BudgetName = 'total' | 'perDay' | 'maxPerRequest'
export type BudgetRefusal = { ok: false; budget: BudgetName; limit: bigint; used: bigint; amount: bigint }
export type Reservation = {
  ok: true
  /** The amount reserved: the most the payment may cost. */
  amount: bigint
  /**
   * Count `charged` (default and at most: the reserved amount) as spent and free the rest of the reservation.
   * Called again after a commit, it lowers the counted spend to `charged` (a stream's receipt arriving after its
   * response was counted in full); it never raises it.
   */
  commit(charged?: bigint): void
  /** Nothing was paid: free the reservation (no-op after a commit). */
  release(): void
}
export type Spend = { total: bigint; today: bigint; count: number }

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/** The amount a spent ledger row counts against budgets (0 when nothing was paid). */
export function countedAmount(r: Pick<PaymentRecord, 'status' | 'amount' | 'chargedAmount'>): bigint {
  if (r.status === 'not_charged' || r.status === 'failed' || r.status === 'expired') return 0n
  return r.status === 'settled' ? r.chargedAmount ?? r.amount : r.amount
}

/** Spend of a purchase's ledger rows: all time, and on the UTC day `day`. */
export function spendOf(rows: readonly PaymentRecord[], day: string): Spend {
  let total = 0n
  let today = 0n
  let count = 0
  for (const r of rows) {
    if (r.direction !== 'spent') continue
    const a = countedAmount(r)
    if (a === 0n) continue
    total += a
    count++
    if (r.createdAt.slice(0, 10) === day) today += a
  }
  return { total, today, count }
}

type Account = { day: string; total: bigint; today: bigint; reserved: bigint; reservedToday: bigint }

export type BudgetBook = {
  /** Load the purchase's committed spend from the ledger (once); must resolve before `reserve`. */
  ensureLoaded(purchase: string): Promise<void>
  /** Reserve `amount` against the limits, synchronously; refused when any limit would be exceeded. */
  reserve(purchase: string, limits: BudgetLimits, amount: bigint): Reservation | BudgetRefusal
  /** Committed and reserved spend now (for status). */
  snapshot(purchase: string): { total: bigint; today: bigint; reserved: bigint } | undefined
}

export function createBudgetBook(load: (purchase: string) => Promise<readonly PaymentRecord[]>, now: () => number = Date.now): BudgetBook {
  const accounts = new Map<string, Account>()
  const loading = new Map<string, Promise<void>>()

  const account = (purchase: string): Account => {
    const a = accounts.get(purchase)
    if (!a) throw new Error(`budget of ${purchase} used before it was loaded`)
    const day = utcDay(now())
    if (a.day !== day) { a.day = day; a.today = 0n; a.reservedToday = 0n }
    return a
  }

  return {
    ensureLoaded(purchase) {
      if (accounts.has(purchase)) return Promise.resolve()
      let p = loading.get(purchase)
      if (!p) {
        p = load(purchase).then((rows) => {
          const day = utcDay(now())
          const s = spendOf(rows, day)
          if (!accounts.has(purchase)) accounts.set(purchase, { day, total: s.total, today: s.today, reserved: 0n, reservedToday: 0n })
        }).finally(() => loading.delete(purchase))
        loading.set(purchase, p)
      }
      return p
    },
    reserve(purchase, limits, amount) {
      const a = account(purchase)
      if (amount > limits.maxPerRequest) return { ok: false, budget: 'maxPerRequest', limit: limits.maxPerRequest, used: 0n, amount }
      if (a.total + a.reserved + amount > limits.total) return { ok: false, budget: 'total', limit: limits.total, used: a.total + a.reserved, amount }
      if (limits.perDay !== undefined && a.today + a.reservedToday + amount > limits.perDay) {
        return { ok: false, budget: 'perDay', limit: limits.perDay, used: a.today + a.reservedToday, amount }
      }
      const day = a.day
      a.reserved += amount
      a.reservedToday += amount
      let state: 'reserved' | 'released' | bigint = 'reserved'
      const commit = (charged: bigint = amount) => {
        if (state === 'released') return
        const spend = charged < 0n ? 0n : charged > amount ? amount : charged
        const cur = account(purchase)
        const sameDay = cur.day === day
        if (state === 'reserved') {
          cur.reserved -= amount
          if (sameDay) cur.reservedToday -= amount
          cur.total += spend
          if (sameDay) cur.today += spend
        } else if (spend < state) {
          cur.total -= state - spend
          if (sameDay) cur.today -= state - spend
        } else return
        state = spend
      }
      const release = () => {
        if (state !== 'reserved') return
        state = 'released'
        const cur = account(purchase)
        cur.reserved -= amount
        if (cur.day === day) cur.reservedToday -= amount
      }
      return { ok: true, amount, commit, release }
    },
    snapshot(purchase) {
      if (!accounts.has(purchase)) return undefined
      const a = account(purchase)
      return { total: a.total, today: a.today, reserved: a.reserved }
    },
  }
}
