import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PaymentRecord } from '../payments/ledger/types.ts'
import { createBudgetBook, spendOf } from './budget.ts'
import { isLoopback } from './buyerHandler.ts'

const row = (amount: bigint, status: PaymentRecord['status'], createdAt: string): PaymentRecord => ({
  id: 1, direction: 'spent', offer: 'purchase/a', route: undefined, resource: undefined, network: 'eip155:31337', asset: '0x', payer: '0x',
  payTo: '0x', nonce: '0x', amount, chargedAmount: status === 'settled' ? amount : undefined, promptTokens: undefined, completionTokens: undefined,
  status, settlement: 'onSuccess', validBefore: 0, x402Version: 2, payload: '', requirements: '', facilitator: 'seller', txHash: undefined,
  error: undefined, attempts: 0, nextAttemptAt: undefined, createdAt, updatedAt: createdAt, settledAt: undefined,
})

test('spend counts settled and pending payments, not refused ones; today is the UTC day', () => {
  const s = spendOf([
    row(10n, 'settled', '2026-11-22T23:59:59.000Z'), row(5n, 'verified', '2026-11-23T00:00:01.000Z'), row(7n, 'not_charged', '2026-11-23T01:00:00.000Z'),
  ], '2026-11-23')
  assert.deepEqual(s, { total: 15n, today: 5n, count: 2 })
})

test('reservations never let concurrent requests exceed the total, the day or one request', async () => {
  const book = createBudgetBook(async () => [row(30n, 'settled', new Date().toISOString())])
  await book.ensureLoaded('p')
  const limits = { total: 100n, perDay: 60n, maxPerRequest: 10n }
  assert.deepEqual(book.reserve('p', limits, 11n), { ok: false, budget: 'maxPerRequest', limit: 10n, used: 0n, amount: 11n })
  const held = Array.from({ length: 10 }, () => book.reserve('p', limits, 10n))
  assert.equal(held.filter((r) => r.ok).length, 3, 'perDay 60 with 30 spent today leaves three requests of 10')
  const refused = held.find((r) => !r.ok)
  assert.equal(refused && !refused.ok && refused.budget, 'perDay')
  const [a, b] = held.filter((r) => r.ok)
  if (a?.ok) a.release()
  if (b?.ok) b.commit()
  assert.deepEqual(book.snapshot('p'), { total: 40n, today: 40n, reserved: 10n })
  assert.equal(book.reserve('p', { ...limits, perDay: undefined, total: 50n }, 10n).ok, false, 'total 50 = 40 spent + 10 reserved')
})

test('only loopback clients are buyers', () => {
  for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.3.2.1']) assert.ok(isLoopback(a), a)
  for (const a of ['10.0.0.1', '::ffff:192.168.1.2', '', undefined, '1270.0.0.1']) assert.ok(!isLoopback(a), String(a))
})

test('a commit counts what was charged and frees the rest; a later receipt lowers a full commit, never raises it', async () => {
  const book = createBudgetBook(async () => [])
  await book.ensureLoaded('p')
  const limits = { total: 100n, perDay: undefined, maxPerRequest: 60n }
  const upto = book.reserve('p', limits, 60n)
  assert.ok(upto.ok)
  assert.equal(book.reserve('p', limits, 50n).ok, false, '60 reserved of 100: 50 more does not fit')
  upto.commit(18n)
  assert.deepEqual(book.snapshot('p'), { total: 18n, today: 18n, reserved: 0n })
  upto.release()
  assert.deepEqual(book.snapshot('p'), { total: 18n, today: 18n, reserved: 0n }, 'release after a commit changes nothing')

  const stream = book.reserve('p', limits, 60n)
  assert.ok(stream.ok)
  stream.commit()
  assert.deepEqual(book.snapshot('p'), { total: 78n, today: 78n, reserved: 0n }, 'a stream without its receipt yet counts in full')
  stream.commit(70n)
  assert.deepEqual(book.snapshot('p'), { total: 78n, today: 78n, reserved: 0n }, 'a receipt above the maximum counts the maximum')
  stream.commit(20n)
  assert.deepEqual(book.snapshot('p'), { total: 38n, today: 38n, reserved: 0n }, 'the receipt lowered it to the charge')
  stream.commit(60n)
  assert.deepEqual(book.snapshot('p'), { total: 38n, today: 38n, reserved: 0n }, 'never raised again')
  assert.equal(book.reserve('p', limits, 60n).ok, true, '38 spent + 60 fits in 100')
})
