import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'

test('committed dev chain artifacts match a fresh compile of contracts/', () => {
  const script = new URL('../../scripts/compile-contracts.mjs', import.meta.url).pathname
  const res = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' })
  assert.equal(res.status, 0, `${res.stdout}${res.stderr}`)
})
