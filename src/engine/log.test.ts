import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BaseError } from '../errors/base.ts'
import { createLogger } from './log.ts'

test('JSON lines with time, level and message; credentials in URLs never reach the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'daemon.log')
  const log = createLogger(file)
  log.info('Started daemon', { url: 'http://user:hunter2@127.0.0.1:8402/x?token=abc', n: 3n })
  log.error('Failed to reconcile offers', { error: new BaseError('Disk is full.', { hint: 'Free some space.' }) })
  log.close()
  log.info('Ignored after close')
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.equal(lines.length, 2)
  assert.match(String(lines[0]!.t), /^\d{4}-\d\d-\d\dT/)
  assert.deepEqual({ ...lines[0], t: undefined }, { t: undefined, level: 'info', msg: 'Started daemon', url: 'http://127.0.0.1:8402/x?token=***', n: '3' })
  assert.deepEqual({ ...lines[1], t: undefined }, { t: undefined, level: 'error', msg: 'Failed to reconcile offers', error: 'Disk is full. Free some space.', errorName: 'BaseError' })
  assert.doesNotMatch(readFileSync(file, 'utf8'), /hunter2|abc/)
})

test('a large log is rotated when the daemon starts', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'daemon.log')
  writeFileSync(file, 'x'.repeat(2000))
  const log = createLogger(file, 1000)
  log.info('Started daemon')
  log.close()
  assert.equal(readFileSync(`${file}.1`, 'utf8').length, 2000)
  assert.match(readFileSync(file, 'utf8'), /^\{"t":.*"msg":"Started daemon"\}\n$/)
})
