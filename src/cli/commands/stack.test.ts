/** `stack up --engine` and `serve --engine/--role`: bad input is one line, exits non-zero and writes nothing. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultContext, type CliContext } from '../context.ts'
import { main } from '../main.ts'

async function run(home: string, ...args: string[]): Promise<{ code: number; err: string }> {
  let err = ''
  const base = defaultContext({ VEND_HOME: home })
  const ctx: CliContext = { ...base, io: { ...base.io, out: () => {}, err: (t) => { err += `${t}\n` } }, canPrompt: () => false }
  return { code: await main(args, ctx), err }
}

test('stack up --engine kubernetes with an unknown context fails in one line and leaves stack.yaml alone', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'vend-k8s-cli-'))
  const kubeconfig = join(home, 'kubeconfig')
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: fake, context: {cluster: c, user: u}}]
current-context: fake
`)
  const saved = process.env.KUBECONFIG
  process.env.KUBECONFIG = kubeconfig
  t.after(() => { if (saved === undefined) delete process.env.KUBECONFIG; else process.env.KUBECONFIG = saved; rmSync(home, { recursive: true, force: true }) })

  const r = await run(home, 'stack', 'up', '--engine', 'kubernetes', '--context', 'nope')
  assert.notEqual(r.code, 0)
  assert.equal(r.err.trim().split('\n').length, 1, r.err)
  assert.match(r.err, /nope/)
  assert.equal(existsSync(join(home, 'stack.yaml')), false)
})

test('engine flags are validated before anything runs', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'vend-k8s-cli-'))
  t.after(() => rmSync(home, { recursive: true, force: true }))
  for (const [args, re] of [
    [['stack', 'up', '--engine', 'nomad'], /Unknown --engine "nomad"/],
    [['stack', 'up', '--engine', 'embedded', '--namespace', 'x'], /only for --engine kubernetes/],
    [['stack', 'up', '--engine', 'kubernetes', '--namespace', 'Bad_NS'], /Invalid namespace/],
    [['serve', '--engine', 'kubernetes'], /needs --role controller or --role gateway/],
    [['serve', '--engine', 'kubernetes', '--role', 'boss'], /not "boss"/],
    [['serve', '--role', 'gateway'], /only for --engine kubernetes/],
  ] as const) {
    const r = await run(home, ...args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`)
    assert.equal(r.err.trim().split('\n').length, 1, r.err)
    assert.match(r.err, re)
    assert.equal(existsSync(join(home, 'stack.yaml')), false)
  }
})
