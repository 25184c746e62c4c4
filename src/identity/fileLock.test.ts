import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withFileLock } from './fileLock.ts'

function dir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'vend-lock-'))
  t.after(() => rmSync(d, { recursive: true, force: true }))
  return d
}

test('holders never overlap; the lock file is gone afterwards', async (t) => {
  const lock = join(dir(t), 'x.lock')
  const events: string[] = []
  const hold = (name: string) => withFileLock(lock, async () => {
    events.push(`${name}+`)
    await new Promise((r) => setTimeout(r, 30))
    events.push(`${name}-`)
    return name
  }, { pollMs: 5 })
  assert.deepEqual(await Promise.all([hold('a'), hold('b'), hold('c')]), ['a', 'b', 'c'])
  for (let i = 0; i < events.length; i += 2) assert.equal(events[i]!.slice(0, 1), events[i + 1]!.slice(0, 1), events.join(' '))
  assert.equal(existsSync(lock), false)
})

test('a lock left by a dead process is taken over; a live holder makes others wait, then time out with a hint', async (t) => {
  const d = dir(t)
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
  const lock = join(d, 'dead.lock')
  writeFileSync(lock, dead)
  assert.equal(await withFileLock(lock, async () => 'taken', { pollMs: 5 }), 'taken')

  const busy = join(d, 'busy.lock')
  writeFileSync(busy, String(process.ppid))
  await assert.rejects(withFileLock(busy, async () => 'never', { timeoutMs: 50, pollMs: 5 }), /Another registration is still running/)
  assert.equal(existsSync(busy), true, 'a live holder\'s lock is left alone')
})
