/**
 * The dashboard's reads on the stack's SQLite ledger (the `payments` table, written by payments/ledger).
 * Aggregation happens in SQL; money stays exact:
 *
 * Amounts are decimal strings of atomic units. SQLite has no bigint and SUM over a REAL would round, so each
 * amount of up to 18 digits (< 2^63, every USDC amount) is split into its last 9 digits and the rest, both summed
 * as SQLite INTEGERs (each part < 10^9, so a sum cannot overflow below ~9·10^9 rows) and read as JS bigints
 * (safeIntegers); the two sums are joined as hi·10^9 + lo in bigint. Longer amounts (18-decimal tokens) are rare:
 * those rows are fetched and added in JS with BigInt. No float ever touches an amount.
 *
 * The amount a row counts for is what `vend sell earnings` (ledger.summary) counts: the charged amount once
 * settled, else the authorised amount.
 */
import type { Statement } from 'better-sqlite3'
import type { PaymentDirection, PaymentStatus } from '../payments/ledger/types.ts'
import type { Db } from '../state/db.ts'

/** settled; pending = verified or settling (owed); notCharged = not_charged, failed or expired. */
export type StatusClass = 'settled' | 'pending' | 'notCharged'
export const STATUS_CLASSES: readonly StatusClass[] = ['settled', 'pending', 'notCharged']

export type Tally = { count: number; amount: bigint }

/** Totals of one offer (or purchase) in one token, by status class. */
export type OfferTotals = { offer: string; network: string; asset: string; byClass: Record<StatusClass, Tally> }

/** One bucket of one token: paid requests (any status) and what they brought, by status class. */
export type BucketTotals = { bucket: number; network: string; asset: string; byClass: Record<StatusClass, Tally> }

export type RecentPayment = {
  id: number
  offer: string
  network: string
  asset: string
  payer: string
  amount: bigint
  status: PaymentStatus
  txHash: string | undefined
  createdAt: string
  settledAt: string | undefined
  error: string | undefined
}

const CLASS_SQL = `CASE WHEN status = 'settled' THEN 'settled' WHEN status IN ('verified','settling') THEN 'pending' ELSE 'notCharged' END`
const EFFECTIVE_SQL = `CASE WHEN status = 'settled' THEN COALESCE(charged_amount, amount) ELSE amount END`
/**
 * Rows with their class and counted amount (`eff`), for one direction. Earned rows are most of the table: a plain
 * table scan beats walking the (direction, …) unique index and fetching each row, so `+` keeps SQLite off that
 * index for them; the few spent rows use it.
 */
const base = (direction: PaymentDirection): string =>
  `SELECT offer, network, asset, created_at, ${CLASS_SQL} AS class, ${EFFECTIVE_SQL} AS eff FROM payments WHERE ${direction === 'earned' ? '+' : ''}direction = '${direction}'`
const EXACT_SUM = `COUNT(*) AS n,
  SUM(CASE WHEN length(eff) <= 18 THEN CAST(substr(eff, 1, max(length(eff) - 9, 0)) AS INTEGER) ELSE 0 END) AS hi,
  SUM(CASE WHEN length(eff) <= 18 THEN CAST(substr(eff, -9) AS INTEGER) ELSE 0 END) AS lo,
  SUM(length(eff) > 18) AS big`

type SumRow = { n: bigint; hi: bigint | null; lo: bigint | null; big: bigint | null }

const emptyClasses = (): Record<StatusClass, Tally> => ({ settled: { count: 0, amount: 0n }, pending: { count: 0, amount: 0n }, notCharged: { count: 0, amount: 0n } })

export type LedgerQueries = {
  /** Totals per offer, token and status class for one direction ('earned': offers sold, 'spent': purchases). */
  totals(direction: PaymentDirection): OfferTotals[]
  /** Earned rows created at or after `fromMs`, per bucket of `bucketSeconds` (bucket = floor(unix seconds / size)). */
  buckets(fromMs: number, bucketSeconds: number): BucketTotals[]
  /** The newest earned payments, newest first. */
  recent(limit: number): RecentPayment[]
}

/** Queries on a database handle that has the ledger's tables (the daemon's, or a read-only one). */
export function createLedgerQueries(db: Db): LedgerQueries {
  const cache = new Map<string, Statement<unknown[]>>()
  const st = (sql: string, safe = true): Statement<unknown[]> => {
    let s = cache.get(sql)
    if (!s) { s = db.prepare<unknown[]>(sql).safeIntegers(safe); cache.set(sql, s) }
    return s
  }

  /**
   * Exact tallies of the rows of `source` (a SELECT with the columns of base()) grouped by `keys` and status class:
   * SQL sums the amounts of up to 18 digits, JS adds the longer ones.
   */
  function tallies<K extends string>(source: string, keys: readonly K[], args: unknown[]): Map<string, Record<K, unknown> & { byClass: Record<StatusClass, Tally> }> {
    const cols = keys.join(', ')
    const keyOf = (r: Record<string, unknown>) => keys.map((k) => String(r[k])).join('\0')
    const rows = st(`WITH p AS (${source}) SELECT ${cols}, class, ${EXACT_SUM} FROM p GROUP BY ${cols}, class`).all(...args) as (Record<K, unknown> & { class: StatusClass } & SumRow)[]
    const out = new Map<string, Record<K, unknown> & { byClass: Record<StatusClass, Tally> }>()
    let long = false
    for (const r of rows) {
      const k = keyOf(r)
      let t = out.get(k)
      if (!t) {
        t = { ...Object.fromEntries(keys.map((c) => [c, r[c]])) as Record<K, unknown>, byClass: emptyClasses() }
        out.set(k, t)
      }
      t.byClass[r.class] = { count: Number(r.n), amount: (r.hi ?? 0n) * 1_000_000_000n + (r.lo ?? 0n) }
      if ((r.big ?? 0n) > 0n) long = true
    }
    if (long) {
      const longOnes = st(`WITH p AS (${source}) SELECT ${cols}, class, eff FROM p WHERE length(eff) > 18`).all(...args) as (Record<string, unknown> & { class: StatusClass; eff: string })[]
      for (const r of longOnes) out.get(keyOf(r))!.byClass[r.class].amount += BigInt(r.eff)
    }
    return out
  }

  return {
    totals(direction) {
      const rows = [...tallies(base(direction), ['offer', 'network', 'asset'] as const, []).values()]
      return rows.map((r): OfferTotals => ({ offer: String(r.offer), network: String(r.network), asset: String(r.asset), byClass: r.byClass }))
        .sort((a, b) => a.offer.localeCompare(b.offer) || a.network.localeCompare(b.network) || a.asset.localeCompare(b.asset))
    },
    buckets(fromMs, bucketSeconds) {
      const size = Math.max(1, Math.floor(bucketSeconds))
      const source = `SELECT *, CAST(strftime('%s', created_at) AS INTEGER) / ${size} AS bucket FROM (${base('earned')} AND created_at >= ?)`
      const rows = [...tallies(source, ['bucket', 'network', 'asset'] as const, [new Date(fromMs).toISOString()]).values()]
      return rows.map((r): BucketTotals => ({ bucket: Number(r.bucket), network: String(r.network), asset: String(r.asset), byClass: r.byClass }))
        .sort((a, b) => a.bucket - b.bucket)
    },
    recent(limit) {
      const rows = st(`SELECT id, offer, network, asset, payer, ${EFFECTIVE_SQL} AS eff, status, tx_hash, created_at, settled_at, error
        FROM payments WHERE +direction = 'earned' ORDER BY id DESC LIMIT ?`, false).all(limit) as {
        id: number; offer: string; network: string; asset: string; payer: string; eff: string; status: PaymentStatus
        tx_hash: string | null; created_at: string; settled_at: string | null; error: string | null
      }[]
      return rows.map((r) => ({
        id: r.id, offer: r.offer, network: r.network, asset: r.asset, payer: r.payer, amount: BigInt(r.eff), status: r.status,
        txHash: r.tx_hash ?? undefined, createdAt: r.created_at, settledAt: r.settled_at ?? undefined, error: r.error ?? undefined,
      }))
    },
  }
}
