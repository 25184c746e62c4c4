#!/usr/bin/env node
// npm test: type-check, then every *.test.ts under src/ and test/ with node's test runner (through tsx).
// Usage: npm test [-- <path filter>...]
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ensureChromium } from './ensure-chromium.mjs'

const root = new URL('..', import.meta.url).pathname
const filters = process.argv.slice(2)

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (name.endsWith('.test.ts')) out.push(relative(root, p))
  }
  return out
}

const files = ['src', 'test'].flatMap((d) => walk(join(root, d))).sort()
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))

if (files.some((f) => f.includes('browser'))) ensureChromium()

if (filters.length === 0) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' })
  if (tsc.status !== 0) { console.error('Type check failed.'); process.exit(tsc.status ?? 1) }
}

const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files], {
  cwd: root, stdio: 'inherit', env: { ...process.env, VEND_TEST: '1' },
})
process.exit(res.status ?? 1)
