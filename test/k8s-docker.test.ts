/**
 * The Dockerfile cannot be built here (no Docker engine): check what can be checked without one. Multi-stage, a
 * non-root USER matching the chart's runAsUser, no HEALTHCHECK (Kubernetes probes do that), every COPY source
 * exists and survives .dockerignore, and the image's command is the one the chart runs.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const root = fileURLToPath(new URL('..', import.meta.url))

type Instruction = { op: string; args: string; stage: number }

function instructions(text: string): Instruction[] {
  const out: Instruction[] = []
  let stage = -1
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const t = line.trim()
    if (!t || t.startsWith('#')) continue
    const [op, ...rest] = t.split(/\s+/)
    if (op!.toUpperCase() === 'FROM') stage++
    out.push({ op: op!.toUpperCase(), args: rest.join(' '), stage })
  }
  return out
}

test('Dockerfile: multi-stage, non-root, no HEALTHCHECK, runs the Kubernetes engine', () => {
  const ins = instructions(readFileSync(`${root}Dockerfile`, 'utf8'))
  const froms = ins.filter((i) => i.op === 'FROM')
  assert.ok(froms.length >= 2, 'multi-stage')
  for (const f of froms) assert.match(f.args, /^node:20\.20[-\w.]*( AS \w+)?$/i, 'pinned Node 20.20 base')
  const last = froms.length - 1
  const user = ins.filter((i) => i.op === 'USER' && i.stage === last).at(-1)
  assert.ok(user, 'the final stage sets USER')
  const uid = Number(user.args.split(':')[0])
  assert.ok(Number.isInteger(uid) && uid > 0, 'USER is a numeric non-root uid (runAsNonRoot can verify it)')
  assert.ok(!ins.some((i) => i.op === 'HEALTHCHECK'))
  const values = parse(readFileSync(`${root}charts/vend/values.yaml`, 'utf8')) as { podSecurityContext: { runAsUser: number } }
  assert.equal(values.podSecurityContext.runAsUser, uid, 'the chart runs the uid the image was made for')
  const entry = JSON.parse(ins.find((i) => i.op === 'ENTRYPOINT')!.args) as string[]
  const cmd = JSON.parse(ins.find((i) => i.op === 'CMD')!.args) as string[]
  assert.deepEqual(entry, ['node', '/app/bin/vend'])
  assert.deepEqual(cmd.slice(0, 3), ['serve', '--engine', 'kubernetes'])
})

test('Dockerfile: every file it COPYs from the context exists and is not excluded by .dockerignore', () => {
  const ins = instructions(readFileSync(`${root}Dockerfile`, 'utf8'))
  const ignore = readFileSync(`${root}.dockerignore`, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  // the ignore file is an allow-list: everything excluded, then re-included with "!"
  assert.equal(ignore[0], '*')
  const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''))
  const sources = ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1))
  assert.ok(sources.length >= 4)
  for (const s of sources) {
    const p = s.replace(/^\.\//, '').replace(/\/$/, '')
    assert.ok(existsSync(`${root}${p}`), `${s} exists`)
    assert.ok(allowed.includes(p), `${s} is in the build context`)
  }
})
