import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openDatabase, startWalCheckpointer } from './db.ts'

test('the background checkpointer moves committed pages from the WAL into the database file, off the writer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-db-'))
  const path = join(dir, 'vend.db')
  const db = openDatabase(path)
  const checkpointer = startWalCheckpointer(db, 50)
  try {
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 16_000, 'the writer checkpoints only as a safety net')
    db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
    const before = statSync(path).size
    const insert = db.prepare('INSERT INTO blobs (body) VALUES (?)')
    // ~2,000 pages, far below the writer's own checkpoint threshold: only the worker can copy them into vend.db
    for (let i = 0; i < 2000; i++) insert.run('x'.repeat(4000))
    const deadline = Date.now() + 10_000
    while (statSync(path).size < before + 2000 * 4000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    assert.ok(statSync(path).size >= before + 2000 * 4000, `vend.db is ${statSync(path).size} bytes: the WAL was not checkpointed`)
    assert.equal((db.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number }).n, 2000)
  } finally {
    await checkpointer.stop()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a checkpointer that cannot open the database (its home was removed) ends quietly; the writer checkpoints itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-db-'))
  const db = openDatabase(join(dir, 'vend.db'))
  rmSync(dir, { recursive: true, force: true })
  const checkpointer = startWalCheckpointer(db, 50)
  try {
    const deadline = Date.now() + 10_000
    while (db.pragma('wal_autocheckpoint', { simple: true }) !== 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000)
  } finally {
    await checkpointer.stop()
    db.close()
  }
})
