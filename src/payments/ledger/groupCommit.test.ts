import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openDatabase, openDatabaseReadOnly } from '../../state/db.ts'
import { createGroupCommit } from './groupCommit.ts'

test('writes of one turn commit together; each resolves committed with its own result; a bad one fails alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-gc-'))
  const db = openDatabase(join(dir, 'vend.db'))
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)')
  const reader = openDatabaseReadOnly(join(dir, 'vend.db'))!
  const write = createGroupCommit(db)
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)')
  const count = () => (reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n
  try {
    const values = ['a', 'b', 'a', 'c', null, 'd']
    const results = await Promise.allSettled(values.map((v) => write(() => Number(insert.run(v).lastInsertRowid))))
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
    assert.match(String((results[2] as PromiseRejectedResult).reason), /UNIQUE/)
    assert.match(String((results[4] as PromiseRejectedResult).reason), /NOT NULL/)
    assert.equal(count(), 4, 'the good writes are committed and visible to another connection once resolved')
    const ids = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)
    assert.deepEqual(new Set(ids).size, 4)

    // a burst is one transaction: fewer WAL frames than the same writes committed one by one
    const walFrames = () => (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log
    db.pragma('wal_checkpoint(TRUNCATE)')
    for (const v of ['e', 'f', 'g', 'h']) await write(() => insert.run(v))
    const oneByOne = walFrames()
    db.pragma('wal_checkpoint(TRUNCATE)')
    await Promise.all(['i', 'j', 'k', 'l'].map((v) => write(() => insert.run(v))))
    const grouped = walFrames()
    assert.equal(count(), 12)
    assert.ok(grouped < oneByOne, `a burst wrote ${grouped} WAL frames, one by one ${oneByOne}`)
  } finally {
    reader.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
