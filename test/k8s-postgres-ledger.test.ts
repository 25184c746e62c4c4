/**
 * The Postgres ledger on a private throwaway Postgres (Debian's postgresql): the same contract suite as the SQLite
 * ledger (src/payments/ledger/ledgerSuite.ts), then what only matters with replicas: one payment recorded once
 * across replicas, owed settlements claimed exactly once, a dead replica's claim finished by another.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, test } from 'node:test'
import { ledgerSuite, samplePayment } from '../src/payments/ledger/ledgerSuite.ts'
import type { Ledger } from '../src/payments/ledger/types.ts'
import { createPostgresLedger } from '../src/k8s/postgresLedger.ts'
import { startPostgres, type TestPostgres } from './helpers/postgres.ts'

let pg: Promise<TestPostgres> | undefined
const server = () => (pg ??= startPostgres())
after(async () => { if (pg) await (await pg).stop() })

/** Replicas sharing one fresh schema. */
async function replicas(n: number, claimLeaseMs?: number): Promise<Ledger[]> {
  const { url } = await server()
  const schema = `t_${randomUUID().replace(/-/g, '')}`
  return Promise.all(Array.from({ length: n }, (_, i) => createPostgresLedger({ connectionString: url, owner: `replica-${i}`, schema, ...(claimLeaseMs ? { claimLeaseMs } : {}) })))
}

ledgerSuite('postgres', async () => {
  const [ledger] = await replicas(1)
  return { ledger: ledger!, cleanup: async () => {} }
})

test('postgres replicas: 10 concurrent copies of one payment across two replicas are recorded once', async () => {
  const ls = await replicas(2)
  try {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => ls[i % 2]!.recordVerified(samplePayment())))
    assert.equal(results.filter((r) => r.ok).length, 1)
    assert.deepEqual(new Set(results.filter((r) => !r.ok).map((r) => !r.ok && r.existing)), new Set(['verified']))
    assert.equal((await ls[0]!.list()).length, 1)
  } finally { await Promise.all(ls.map((l) => l.close())) }
})

test('postgres replicas: owed settlements are claimed exactly once while both drain the queue', async () => {
  const ls = await replicas(2)
  try {
    const ids: number[] = []
    for (let i = 0; i < 40; i++) {
      const r = await ls[0]!.recordVerified(samplePayment({ nonce: `0x${i.toString(16).padStart(64, '0')}` }))
      assert.ok(r.ok)
      await ls[0]!.markSettling(r.id, Date.now() - 1)
      ids.push(r.id)
    }
    const claimed: number[][] = [[], []]
    await Promise.all(ls.map(async (l, i) => {
      for (;;) {
        const due = await l.dueSettlements(Date.now(), 3)
        if (!due.length) return
        claimed[i]!.push(...due.map((d) => d.id))
      }
    }))
    assert.deepEqual([...claimed[0]!, ...claimed[1]!].sort((a, b) => a - b), ids)
  } finally { await Promise.all(ls.map((l) => l.close())) }
})

test('postgres replicas: a settlement claimed by a replica that died is finished by the other after the claim lease', async () => {
  const [a, b] = await replicas(2, 60_000)
  try {
    const r = await a!.recordVerified(samplePayment({ status: 'settling', settlement: 'optimistic' }))
    assert.ok(r.ok)
    // the recording replica owns it first: the other one does not see it as due
    assert.equal((await b!.dueSettlements(Date.now(), 10)).length, 0)
    await a!.close() // killed before settling
    assert.equal((await b!.dueSettlements(Date.now(), 10)).length, 0)
    const due = await b!.dueSettlements(Date.now() + 61_000, 10)
    assert.deepEqual(due.map((d) => d.id), [r.id])
    await b!.markSettled(r.id, '0xfeed', 10_000n)
    assert.equal((await b!.get(r.id))?.status, 'settled')
    assert.equal((await b!.dueSettlements(Number.MAX_SAFE_INTEGER, 10)).length, 0)
  } finally { await b!.close() }
})

test('postgres replicas: restarting one replica releases only its own interrupted requests', async () => {
  const [a, b] = await replicas(2)
  try {
    const mine = await a!.recordVerified(samplePayment())
    const theirs = await b!.recordVerified(samplePayment({ nonce: `0x${'cd'.repeat(32)}` }))
    assert.ok(mine.ok && theirs.ok)
    assert.equal(await a!.releaseAbandoned('restarted'), 1)
    assert.equal((await a!.get(mine.id))?.status, 'not_charged')
    assert.equal((await a!.get(theirs.id))?.status, 'verified', "another live replica's in-flight request is left alone")
  } finally { await Promise.all([a!.close(), b!.close()]) }
})

test('postgres: metered usage (upto) is recorded exactly before settling', async () => {
  const [l] = await replicas(1)
  try {
    const r = await l!.recordVerified(samplePayment({ amount: 1_000_000n }))
    assert.ok(r.ok)
    await l!.recordUsage!(r.id, { chargedAmount: 123_457n, promptTokens: 12, completionTokens: 34, requirements: '{"scheme":"upto"}' })
    const rec = await l!.get(r.id)
    assert.deepEqual([rec?.chargedAmount, rec?.promptTokens, rec?.completionTokens, rec?.requirements], [123_457n, 12, 34, '{"scheme":"upto"}'])
  } finally { await l!.close() }
})
