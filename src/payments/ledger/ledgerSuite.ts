/** Behaviour every Ledger implementation must have (SQLite now, Postgres later): run with `ledgerSuite(name, open)`. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Ledger, NewPayment } from './types.ts'

export function samplePayment(over: Partial<NewPayment> = {}): NewPayment {
  return {
    offer: 'default/weather', network: 'eip155:31337', asset: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    payer: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', payTo: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    nonce: `0x${'ab'.repeat(32)}`, amount: 10_000n, validBefore: Math.floor(Date.now() / 1000) + 300, x402Version: 2,
    payload: '{}', requirements: '{}', facilitator: 'local', settlement: 'onSuccess', ...over,
  }
}

export function ledgerSuite(name: string, open: () => Promise<{ ledger: Ledger; cleanup: () => Promise<void> }>): void {
  const withLedger = (fn: (l: Ledger) => Promise<void>) => async () => {
    const { ledger, cleanup } = await open()
    try { await fn(ledger) } finally { await ledger.close(); await cleanup() }
  }

  test(`${name}: one payment can be recorded once, whatever the case of its hex fields`, withLedger(async (l) => {
    const first = await l.recordVerified(samplePayment())
    assert.equal(first.ok, true)
    const dup = await l.recordVerified(samplePayment({ payer: '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc', nonce: `0x${'AB'.repeat(32)}` }))
    assert.deepEqual(dup, { ok: false, existing: 'verified' })
    assert.equal((await l.recordVerified(samplePayment({ nonce: `0x${'cd'.repeat(32)}` }))).ok, true)
  }))

  test(`${name}: concurrent records of one payment: exactly one wins`, withLedger(async (l) => {
    const results = await Promise.all(Array.from({ length: 10 }, () => l.recordVerified(samplePayment())))
    assert.equal(results.filter((r) => r.ok).length, 1)
  }))

  test(`${name}: lifecycle to settled keeps the amount exact and the tx hash`, withLedger(async (l) => {
    const r = await l.recordVerified(samplePayment({ amount: 12_345_678_901_234_567_890n }))
    assert.ok(r.ok)
    await l.markSettling(r.id, Date.now())
    assert.equal((await l.dueSettlements(Date.now() + 1, 10)).length, 1)
    await l.setTxHash(r.id, '0xaa')
    await l.markSettled(r.id, '0xbb', 12_345_678_901_234_567_890n)
    const rec = await l.get(r.id)
    assert.equal(rec?.status, 'settled')
    assert.equal(rec?.txHash, '0xbb')
    assert.equal(rec?.chargedAmount, 12_345_678_901_234_567_890n)
    assert.equal((await l.dueSettlements(Date.now() + 1, 10)).length, 0)
    const sum = await l.summary()
    assert.equal(sum.length, 1)
    assert.equal(sum[0]?.amount, 12_345_678_901_234_567_890n)
  }))

  test(`${name}: retries are due only when scheduled; abandoned verified rows are released`, withLedger(async (l) => {
    const a = await l.recordVerified(samplePayment())
    const b = await l.recordVerified(samplePayment({ nonce: `0x${'01'.repeat(32)}`, status: 'settling', settlement: 'optimistic' }))
    assert.ok(a.ok && b.ok)
    assert.equal(await l.unsettledAmount('eip155:31337', '0x5fbdb2315678afecb367f032d93f642f64180aa3', samplePayment().payer), 20_000n)
    await l.scheduleRetry(b.id, 'rpc down', Date.now() + 60_000)
    assert.equal((await l.dueSettlements(Date.now(), 10)).length, 0)
    assert.equal((await l.dueSettlements(Date.now() + 61_000, 10)).length, 1)
    assert.equal(await l.releaseAbandoned('daemon restarted'), 1)
    assert.equal((await l.get(a.id))?.status, 'not_charged')
    assert.equal((await l.get(b.id))?.status, 'settling')
  }))

  test(`${name}: the buyer side (spent) is kept apart from what the stack earns and settles`, withLedger(async (l) => {
    const earned = await l.recordVerified(samplePayment())
    const spent = await l.recordVerified(samplePayment({ direction: 'spent' }))
    assert.ok(earned.ok && spent.ok, 'the same authorisation may appear once per direction')
    assert.equal(await l.releaseAbandoned('daemon restarted'), 1)
    assert.equal((await l.get(spent.id))?.status, 'verified')
    assert.deepEqual((await l.summary()).map((r) => r.status), ['not_charged'])
    assert.deepEqual((await l.summary(undefined, 'spent')).map((r) => r.status), ['verified'])
  }))
}
