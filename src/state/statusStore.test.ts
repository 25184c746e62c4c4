import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { OfferStatus } from '../reconciler/types.ts'
import { openDatabase, openDatabaseReadOnly } from './db.ts'
import { createStatusStore, readStatuses } from './statusStore.ts'

const status = (key: string, reason = 'Healthy'): OfferStatus => ({
  key, namespace: key.split('/')[0]!, name: key.split('/')[1]!, file: `offers/${key}.yaml`, generation: 'abc', type: 'http',
  conditions: [{ type: 'UpstreamHealthy', status: 'True', reason, message: 'ok', lastTransitionTime: '2026-01-01T00:00:00.000Z' }],
  ready: true, operationallyReady: true, path: `/services/${key}`, drainEndsAt: undefined,
})

const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/** A fresh state database file, removed after the test. */
function dbFile(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vend-status-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'vend.db')
}

test('statuses are written only when they change, and survive a reopen', async (t) => {
  const file = dbFile(t)
  const db = openDatabase(file)
  const store = createStatusStore(db)
  const updatedAt = () => db.prepare('SELECT key, updated_at FROM offer_status ORDER BY key').all()

  assert.deepEqual(store.save(new Map([['a/x', status('a/x')], ['b/y', status('b/y')]]), '2026-01-01T00:00:01.000Z'), ['a/x', 'b/y'])
  await store.flushed()
  const before = updatedAt()
  assert.equal(before.length, 2)
  assert.deepEqual(store.save(new Map([['a/x', status('a/x')], ['b/y', status('b/y')]]), '2026-01-01T00:00:02.000Z'), [])
  await store.flushed()
  assert.deepEqual(updatedAt(), before, 'an unchanged pass writes nothing')

  assert.deepEqual(store.save(new Map([['a/x', status('a/x', 'Other')]]), '2026-01-01T00:00:03.000Z'), ['a/x', 'b/y'])
  await store.flushed()
  assert.deepEqual(updatedAt(), [{ key: 'a/x', updated_at: '2026-01-01T00:00:03.000Z' }])
  db.close()

  const ro = openDatabaseReadOnly(file)!
  assert.deepEqual(readStatuses(ro), [json(status('a/x', 'Other'))])
  ro.close()
  const again = createStatusStore(openDatabase(file))
  assert.deepEqual(again.previous().get('a/x'), json(status('a/x', 'Other')))
})

test('first-seen times are kept until the offer is gone', async (t) => {
  const file = dbFile(t)
  const store = createStatusStore(openDatabase(file))
  assert.equal(store.firstSeen([{ key: 'a/x', seenAt: 1000.7 }]).get('a/x'), 1000)
  assert.equal(store.firstSeen([{ key: 'a/x', seenAt: 5000 }, { key: 'b/y', seenAt: 6000 }]).get('a/x'), 1000)
  await store.flushed()
  const reopened = createStatusStore(openDatabase(file))
  assert.equal(reopened.firstSeen([{ key: 'a/x', seenAt: 9000 }]).get('a/x'), 1000)
  reopened.save(new Map([['a/x', status('a/x')]]), '2026-01-01T00:00:00.000Z')
  assert.equal(reopened.firstSeen([{ key: 'b/y', seenAt: 7000 }]).get('b/y'), 7000, 'a deleted offer that comes back is new')
})

test('saves are written after the call, in chunks, and flush() writes the rest at once', async (t) => {
  const db = openDatabase(dbFile(t))
  t.after(() => db.close())
  const store = createStatusStore(db)
  const count = () => (db.prepare('SELECT count(*) AS n FROM offer_status').get() as { n: number }).n
  const many = new Map(Array.from({ length: 1200 }, (_, i) => [`a/o${i}`, status(`a/o${i}`)] as const))

  assert.equal(store.save(many, '2026-01-01T00:00:01.000Z').length, 1200)
  assert.equal(count(), 0, 'nothing written during the pass')
  assert.equal(store.previous().size, 1200, 'the next pass compares with what was saved')
  await new Promise((r) => setImmediate(r))
  assert.ok(count() > 0 && count() < 1200, 'the first chunk is written on the next turn, not all of them')
  await store.flushed()
  assert.equal(count(), 1200)

  store.save(new Map([['a/o0', status('a/o0', 'Other')]]), '2026-01-01T00:00:02.000Z')
  store.flush()
  assert.equal(count(), 1)
  assert.deepEqual(readStatuses(db), [json(status('a/o0', 'Other'))])
})

test('a crash before the writes loses only what the next start recomputes the same', async (t) => {
  const file = dbFile(t)
  const first = createStatusStore(openDatabase(file))
  first.firstSeen([{ key: 'a/x', seenAt: 1000 }])
  first.save(new Map([['a/x', status('a/x')]]), '2026-01-01T00:00:01.000Z')
  await first.flushed()
  // Then a pass whose rows never reach the db: b/y is new, a/x changed.
  first.firstSeen([{ key: 'a/x', seenAt: 1000 }, { key: 'b/y', seenAt: 2000 }])
  first.save(new Map([['a/x', status('a/x', 'Other')], ['b/y', status('b/y')]]), '2026-01-01T00:00:02.000Z')

  const restarted = createStatusStore(openDatabase(file))
  assert.deepEqual(restarted.previous().get('a/x'), json(status('a/x')), 'the last written status stays the previous one')
  assert.equal(restarted.previous().has('b/y'), false)
  const seen = restarted.firstSeen([{ key: 'a/x', seenAt: 1000 }, { key: 'b/y', seenAt: 2000 }])
  assert.deepEqual([seen.get('a/x'), seen.get('b/y')], [1000, 2000], 'first-seen times come back from the files')
})

test('an offer deleted and re-created before the writes ends up as the latest pass left it', async (t) => {
  const file = dbFile(t)
  const store = createStatusStore(openDatabase(file))
  store.firstSeen([{ key: 'a/x', seenAt: 1000 }])
  store.save(new Map([['a/x', status('a/x')]]), '2026-01-01T00:00:01.000Z')
  store.flush()
  store.save(new Map(), '2026-01-01T00:00:02.000Z')
  store.firstSeen([{ key: 'a/x', seenAt: 3000 }])
  store.save(new Map([['a/x', status('a/x', 'Other')]]), '2026-01-01T00:00:03.000Z')
  await store.flushed()

  const reopened = createStatusStore(openDatabase(file))
  assert.equal(reopened.firstSeen([{ key: 'a/x', seenAt: 9000 }]).get('a/x'), 3000)
  assert.deepEqual(reopened.previous().get('a/x'), json(status('a/x', 'Other')))
})

test('jsonEqual compares like JSON does', async () => {
  const { jsonEqual } = await import('./statusStore.ts')
  assert.equal(jsonEqual({ a: 1, b: undefined, c: [1, { d: 'x' }] }, { c: [1, { d: 'x' }], a: 1 }), true)
  assert.equal(jsonEqual({ a: 1 }, { a: 1, b: 2 }), false)
  assert.equal(jsonEqual({ a: [1, 2] }, { a: [2, 1] }), false)
  assert.equal(jsonEqual({ a: [] }, { a: {} }), false)
  assert.equal(jsonEqual({ a: null }, { a: undefined }), false)
  assert.equal(jsonEqual(undefined, { a: 1 }), false)
})
