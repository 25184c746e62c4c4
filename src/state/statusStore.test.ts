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

test('statuses are written only when they change, and survive a reopen', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-status-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'vend.db')
  const db = openDatabase(file)
  const store = createStatusStore(db)
  const updatedAt = () => db.prepare('SELECT key, updated_at FROM offer_status ORDER BY key').all()

  assert.deepEqual(store.save(new Map([['a/x', status('a/x')], ['b/y', status('b/y')]]), '2026-01-01T00:00:01.000Z'), ['a/x', 'b/y'])
  const before = updatedAt()
  assert.deepEqual(store.save(new Map([['a/x', status('a/x')], ['b/y', status('b/y')]]), '2026-01-01T00:00:02.000Z'), [])
  assert.deepEqual(updatedAt(), before, 'an unchanged pass writes nothing')

  assert.deepEqual(store.save(new Map([['a/x', status('a/x', 'Other')]]), '2026-01-01T00:00:03.000Z'), ['a/x', 'b/y'])
  assert.deepEqual(updatedAt(), [{ key: 'a/x', updated_at: '2026-01-01T00:00:03.000Z' }])
  db.close()

  const ro = openDatabaseReadOnly(file)!
  assert.deepEqual(readStatuses(ro), [json(status('a/x', 'Other'))])
  ro.close()
  const again = createStatusStore(openDatabase(file))
  assert.deepEqual(again.previous().get('a/x'), json(status('a/x', 'Other')))
})

test('first-seen times are kept until the offer is gone', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-status-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'vend.db')
  const store = createStatusStore(openDatabase(file))
  assert.equal(store.firstSeen([{ key: 'a/x', seenAt: 1000.7 }]).get('a/x'), 1000)
  assert.equal(store.firstSeen([{ key: 'a/x', seenAt: 5000 }, { key: 'b/y', seenAt: 6000 }]).get('a/x'), 1000)
  const reopened = createStatusStore(openDatabase(file))
  assert.equal(reopened.firstSeen([{ key: 'a/x', seenAt: 9000 }]).get('a/x'), 1000)
  reopened.save(new Map([['a/x', status('a/x')]]), '2026-01-01T00:00:00.000Z')
  assert.equal(reopened.firstSeen([{ key: 'b/y', seenAt: 7000 }]).get('b/y'), 7000, 'a deleted offer that comes back is new')
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
