import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSerialRunner } from './serialRunner.ts'

test('runs one at a time; calls during a run share the next run with merged options', async () => {
  const runs: string[][] = []
  let active = 0
  let release!: () => void
  const runner = createSerialRunner<string[]>(async (o) => {
    active++
    assert.equal(active, 1)
    runs.push(o)
    if (runs.length === 1) await new Promise<void>((r) => { release = r })
    active--
  }, (a, b) => [...a, ...b])
  const first = runner.run(['a'])
  const second = runner.run(['b'])
  const third = runner.run(['c'])
  assert.equal(second, third, 'calls made during a run share the next one')
  release()
  await Promise.all([first, second, third])
  assert.deepEqual(runs, [['a'], ['b', 'c']])
  await runner.run(['d'])
  assert.deepEqual(runs.at(-1), ['d'])
  await runner.idle()
})

test('a failed run rejects its callers but not the next run', async () => {
  let n = 0
  const runner = createSerialRunner<null>(async () => { if (n++ === 0) throw new Error('boom') }, () => null)
  const failing = runner.run(null)
  const next = runner.run(null)
  await assert.rejects(failing, /boom/)
  await next
  assert.equal(n, 2)
})
