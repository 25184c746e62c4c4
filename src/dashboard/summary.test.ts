/**
 * The dashboard's aggregation on a real SQLite ledger: exact sums (past 2^53, past 2^63, 18-decimal tokens), the
 * status classes, per-offer earnings equal to `vend sell earnings` (ledger.summary), bucketing by time, and
 * explorer links only where the chain has an explorer and the hash is one.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { samplePayment } from '../payments/ledger/ledgerSuite.ts'
import { createSqliteLedger } from '../payments/ledger/sqliteLedger.ts'
import type { Ledger, NewPayment } from '../payments/ledger/types.ts'
import { openDatabase, type Db } from '../state/db.ts'
import { createLedgerQueries } from './queries.ts'
import { buildSummary, rangeStartMs } from './summary.ts'

const LOCAL_USDC = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const SEPOLIA_USDC = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const TOKEN18 = '0x00000000000000000000000000000000000000aa'

let dir: string
let db: Db
let ledger: Ledger
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vend-dash-'))
  db = openDatabase(join(dir, 'vend.db'))
  ledger = createSqliteLedger(db)
})
afterEach(() => { db.close(); rmSync(dir, { recursive: true, force: true }) })

const nonce = () => `0x${randomBytes(32).toString('hex')}`

/** Record a payment and move it to `status` (settled: charged `charged` or the amount), created at `at`. */
async function pay(over: Partial<NewPayment>, status: 'settled' | 'settling' | 'verified' | 'not_charged' | 'failed' = 'settled', opts: { at?: Date; charged?: bigint; tx?: string } = {}): Promise<number> {
  const p = samplePayment({ nonce: nonce(), ...over })
  const r = await ledger.recordVerified(p)
  assert.ok(r.ok)
  const id = r.id
  if (status === 'settled') await ledger.markSettled(id, opts.tx ?? `0x${randomBytes(32).toString('hex')}`, opts.charged ?? p.amount)
  if (status === 'settling') await ledger.markSettling(id, Date.now() + 60_000)
  if (status === 'not_charged') await ledger.markNotCharged(id, 'upstream answered 500')
  if (status === 'failed') await ledger.markFailed(id, 'transfer reverted')
  if (opts.at) db.prepare('UPDATE payments SET created_at = ? WHERE id = ?').run(opts.at.toISOString(), id)
  return id
}

test('sums are exact past 2^53, past 2^63 and for 18-decimal tokens, and equal the ledger summary', async () => {
  const big = 9_007_199_254_740_993n // 2^53 + 1: a double cannot hold it
  const max18 = 999_999_999_999_999_999n // 18 digits: ten of them exceed 2^63
  const huge = 123_456_789_012_345_678_901_234_567_890n // 30 digits (an 18-decimal token)
  for (let i = 0; i < 3; i++) await pay({ amount: big })
  for (let i = 0; i < 10; i++) await pay({ offer: 'default/max', amount: max18 })
  await pay({ offer: 'default/token18', asset: TOKEN18, amount: huge })
  await pay({ offer: 'default/token18', asset: TOKEN18, amount: huge + 1n })
  await pay({ offer: 'default/token18', asset: TOKEN18, amount: 7n })

  const totals = createLedgerQueries(db).totals('earned')
  const get = (offer: string) => totals.find((t) => t.offer === offer)!.byClass.settled
  assert.deepEqual(get('default/weather'), { count: 3, amount: 3n * big })
  assert.deepEqual(get('default/max'), { count: 10, amount: 10n * max18 })
  assert.equal(10n * max18 > 2n ** 63n, true)
  assert.deepEqual(get('default/token18'), { count: 3, amount: 2n * huge + 8n })
  // The same numbers `vend sell earnings` reports.
  for (const s of await ledger.summary()) {
    const t = totals.find((x) => x.offer === s.offer && x.asset === s.asset)!
    assert.equal(t.byClass.settled.amount, s.amount, s.offer)
  }
})

test('status classes: settled counts the charged amount; owed rows are pending; refused ones are not charged', async () => {
  await pay({ amount: 10_000n }, 'settled', { charged: 4_321n }) // metered: charged less than authorised
  await pay({ amount: 10_000n }, 'settling')
  await pay({ amount: 10_000n }, 'verified')
  await pay({ amount: 20_000n }, 'not_charged')
  await pay({ amount: 30_000n }, 'failed')
  await pay({ amount: 500n, direction: 'spent', offer: 'seller-x' })

  const q = createLedgerQueries(db)
  const [t] = q.totals('earned')
  assert.deepEqual(t!.byClass, { settled: { count: 1, amount: 4_321n }, pending: { count: 2, amount: 20_000n }, notCharged: { count: 2, amount: 50_000n } })
  assert.deepEqual(q.totals('spent').map((s) => [s.offer, s.byClass.settled]), [['seller-x', { count: 1, amount: 500n }]])

  const summary = buildSummary({ queries: q, statuses: [], offers: new Map(), now: new Date(), range: '1h' })
  const usdc = summary.totals[0]!
  assert.equal(usdc.token.symbol, 'USDC')
  assert.deepEqual([usdc.settled.amount, usdc.pending.amount, usdc.notCharged.amount], ['0.004321', '0.02', '0.05'])
  assert.deepEqual(summary.spent.map((s) => [s.purchase, s.totals[0]!.settled.amount]), [['seller-x', '0.0005']])
  // An offer that is gone from disk still shows what it earned.
  assert.deepEqual(summary.offers.map((o) => [o.key, o.state, o.earnings[0]!.settled.atomic]), [['default/weather', 'removed', '4321']])
})

test('bucketing: per minute over the last hour, per hour over 24 h; older rows and spent rows stay out', async () => {
  const now = new Date('2026-11-23T12:30:20.000Z')
  await pay({ amount: 1_000n }, 'settled', { at: new Date('2026-11-23T12:30:05.000Z') }) // current minute
  await pay({ amount: 2_000n }, 'settled', { at: new Date('2026-11-23T12:30:59.999Z') }) // same minute
  await pay({ amount: 4_000n }, 'not_charged', { at: new Date('2026-11-23T12:29:00.000Z') }) // previous minute, no revenue
  await pay({ amount: 8_000n }, 'settled', { at: new Date('2026-11-23T11:31:00.000Z') }) // first minute of the hour
  await pay({ amount: 16_000n }, 'settled', { at: new Date('2026-11-23T11:30:59.000Z') }) // just before it
  await pay({ amount: 32_000n }, 'settled', { at: new Date('2026-11-22T10:00:00.000Z') }) // a day ago
  await pay({ amount: 64_000n, direction: 'spent', offer: 'seller-x' }, 'settled', { at: new Date('2026-11-23T12:30:10.000Z') })

  assert.equal(new Date(rangeStartMs('1h', now)).toISOString(), '2026-11-23T11:31:00.000Z')
  const q = createLedgerQueries(db)
  const hour = buildSummary({ queries: q, statuses: [], offers: new Map(), now, range: '1h' }).chart
  assert.equal(hour.buckets.length, 60)
  assert.equal(hour.bucketSeconds, 60)
  const nonEmpty = hour.buckets.filter((b) => b.requests > 0).map((b) => [b.start, b.requests, b.revenue])
  assert.deepEqual(nonEmpty, [
    ['2026-11-23T11:31:00.000Z', 1, '0.008'],
    ['2026-11-23T12:29:00.000Z', 1, '0'],
    ['2026-11-23T12:30:00.000Z', 2, '0.003'],
  ])
  assert.equal(hour.token?.symbol, 'USDC')

  const day = buildSummary({ queries: q, statuses: [], offers: new Map(), now, range: '24h' }).chart
  assert.equal(day.buckets.length, 24)
  assert.deepEqual(day.buckets.filter((b) => b.requests > 0).map((b) => [b.start, b.requests, b.revenueAtomic]), [
    ['2026-11-23T11:00:00.000Z', 2, '24000'],
    ['2026-11-23T12:00:00.000Z', 3, '3000'],
  ])
  assert.equal(day.buckets.at(-1)!.start, '2026-11-23T12:00:00.000Z')
  // The whole 30 days include the day-old payment.
  const month = buildSummary({ queries: q, statuses: [], offers: new Map(), now, range: '30d' }).chart
  assert.equal(month.buckets.reduce((n, b) => n + b.requests, 0), 6)
  assert.equal(month.buckets.reduce((n, b) => n + BigInt(b.revenueAtomic), 0n), 59_000n)
})

test('the chart follows the token with the most settled payments and names the others', async () => {
  const now = new Date()
  await pay({ amount: 1n })
  await pay({ network: 'eip155:84532', asset: SEPOLIA_USDC, amount: 5n })
  await pay({ network: 'eip155:84532', asset: SEPOLIA_USDC, amount: 6n })
  const chart = buildSummary({ queries: createLedgerQueries(db), statuses: [], offers: new Map(), now, range: '1h' }).chart
  assert.equal(chart.token?.chain, 'base-sepolia')
  assert.equal(chart.buckets.at(-1)!.revenueAtomic, '11')
  assert.equal(chart.buckets.at(-1)!.requests, 3)
  assert.deepEqual(chart.otherTokens, ['USDC on local'])
})

test('recent payments: newest first, explorer links only on chains with an explorer and for real hashes', async () => {
  const tx = `0x${'12'.repeat(32)}`
  await pay({ amount: 1n }, 'settled', { tx })
  await pay({ network: 'eip155:84532', asset: SEPOLIA_USDC, amount: 2_500_000n }, 'settled', { tx })
  await pay({ network: 'eip155:84532', asset: SEPOLIA_USDC, amount: 3n }, 'settled', { tx: 'javascript:alert(1)' })
  const recent = buildSummary({ queries: createLedgerQueries(db), statuses: [], offers: new Map(), now: new Date(), range: '1h' }).recent
  assert.deepEqual(recent.map((r) => [r.amount, r.txUrl]), [
    ['0.000003', undefined],
    ['2.5', `https://sepolia.basescan.org/tx/${tx}`],
    ['0.000001', undefined],
  ])
  assert.equal(recent[1]!.payerUrl, 'https://sepolia.basescan.org/address/0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc')
  assert.equal(recent[2]!.txHash, tx, 'the dev chain has no explorer: the hash is shown without a link')
})
