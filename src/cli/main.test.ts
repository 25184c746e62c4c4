/**
 * The CLI in-process (main() with captured output and a temp VEND_HOME): what the commands write to the
 * offer files, and how they refuse. Commands run with --no-wait, so no daemon is involved.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { defaultContext, type CliContext } from './context.ts'
import { main } from './main.ts'

const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3'

type Run = { code: number; out: string; err: string }

function setup(env: NodeJS.ProcessEnv = {}): { home: string; run: (...args: string[]) => Promise<Run>; file: (ns: string, name: string) => Record<string, any>; done: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'vend-cli-'))
  const run = async (...args: string[]): Promise<Run> => {
    let out = ''
    let err = ''
    const base = defaultContext({ VEND_HOME: home, ...env })
    const ctx: CliContext = {
      ...base,
      io: { out: (t) => { out += t.endsWith('\n') ? t : `${t}\n` }, err: (t) => { err += t.endsWith('\n') ? t : `${t}\n` }, stdinIsTTY: false, stdoutIsTTY: false, confirm: async () => false },
      canPrompt: () => false,
      engine: () => { throw new Error('no engine in these tests') },
    }
    const code = await main(args, ctx)
    return { code, out, err }
  }
  const file = (ns: string, name: string) => parse(readFileSync(join(home, 'offers', ns, `${name}.yaml`), 'utf8')) as Record<string, any>
  return { home, run, file, done: () => rmSync(home, { recursive: true, force: true }) }
}

test('usage errors: one line with a suggestion, exit 2; help goes to stdout', async () => {
  const s = setup()
  try {
    assert.deepEqual(await s.run('sell', 'http', 'x', '--pric', '1'), { code: 2, out: '', err: "vend: unknown option '--pric'. Did you mean --price?\n" })
    assert.deepEqual(await s.run('sel'), { code: 2, out: '', err: "vend: unknown command 'sel'. Did you mean sell?\n" })
    assert.deepEqual(await s.run('sell', 'status'), { code: 2, out: '', err: "vend: missing required argument 'name'. Run `vend sell status --help` for usage.\n" })
    const help = await s.run('sell', 'http', '--help')
    assert.equal(help.code, 0)
    assert.match(help.out, /^Usage: vend sell http \[options\] <name>/)
    assert.match(help.out, /Examples:\n {2}vend sell http weather/)
  } finally { s.done() }
})

test('sell http writes only what was given (plus registration.enabled)', async () => {
  const s = setup()
  try {
    const r = await s.run('sell', 'http', 'weather', '--upstream', 'http://127.0.0.1:9000', '--per-request', '0.001', '--wallet', ALICE, '--no-wait')
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out, 'http://127.0.0.1:8402/services/weather\n')
    assert.equal(r.err, '✓ Created offer default/weather\n')
    assert.deepEqual(s.file('default', 'weather'), {
      apiVersion: 'vend.dev/v1alpha1', kind: 'ServiceOffer', metadata: { name: 'weather' },
      spec: { type: 'http', upstream: { url: 'http://127.0.0.1:9000' }, payment: { network: 'base-sepolia', payTo: ALICE, price: { perRequest: '0.001' } }, registration: { enabled: true } },
    })
    const again = await s.run('sell', 'http', 'weather', '--upstream', 'http://127.0.0.1:9001', '--price', '0.002', '-w', ALICE, '--no-wait')
    assert.equal(again.err, '✓ Updated offer default/weather\n')
  } finally { s.done() }
})

test('sell http: every flag lands in the offer', async () => {
  const s = setup()
  try {
    const r = await s.run('sell', 'http', 'search', '-n', 'team-a', '--upstream', 'https://api.internal:8443/v2', '--price', '12.5',
      '--pay-to', ALICE, '--chain', 'eip155:31337', '--token', TOKEN, '--path', '/search', '--health-path', '/ready', '--max-timeout', '5m',
      '--description', 'Search things', '--route', 'path=/status,gate=free', '--route', 'path=/deep,price=0.05,methods=GET|post,summary=Deep search',
      '--max-in-flight', '8', '--rps', '2.5', '--upstream-header', 'Authorization=Bearer env:SEARCH_KEY', '--upstream-header', 'X-Key=file:/run/key',
      '--register-name', 'Search', '--register-skills', 'a/b', '--register-metadata', 'k=v', '--no-wait')
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out, 'http://127.0.0.1:8402/search\n')
    assert.deepEqual(s.file('team-a', 'search').spec, {
      type: 'http', description: 'Search things',
      upstream: { url: 'https://api.internal:8443/v2', healthPath: '/ready', headers: { Authorization: { env: 'SEARCH_KEY', prefix: 'Bearer ' }, 'X-Key': { file: '/run/key' } } },
      path: '/search',
      payment: { network: 'local', payTo: ALICE, asset: { address: TOKEN }, price: { perRequest: '12.5' }, maxTimeoutSeconds: 300 },
      routes: [{ path: '/status', gate: 'free' }, { path: '/deep', price: { perRequest: '0.05' }, methods: ['GET', 'POST'], summary: 'Deep search' }],
      limits: { maxInFlight: 8, rps: 2.5 },
      registration: { enabled: true, name: 'Search', skills: ['a/b'], metadata: { k: 'v' } },
    })
    assert.equal(s.file('team-a', 'search').metadata.namespace, 'team-a')
  } finally { s.done() }
})

test('recipient and chain fall back to VEND_PAY_TO, stack.yaml defaults and the dev chain', async () => {
  const s = setup({ VEND_PAY_TO: BOB })
  try {
    writeFileSync(join(s.home, 'stack.yaml'), `defaults:\n  chain: base\n  payTo: "${ALICE}"\n`)
    assert.equal((await s.run('sell', 'http', 'a', '--upstream', 'http://127.0.0.1:9', '--price', '1', '--no-wait')).code, 0)
    assert.equal(s.file('default', 'a').spec.payment.payTo, BOB)
    assert.equal(s.file('default', 'a').spec.payment.network, 'base')
    writeFileSync(join(s.home, 'stack.yaml'), 'dev:\n  enabled: true\n  chainId: 31337\n')
    assert.equal((await s.run('sell', 'http', 'd', '--upstream', 'http://127.0.0.1:9', '--price', '1', '--no-wait')).code, 0)
    assert.equal(s.file('default', 'd').spec.payment.network, 'local', 'a dev stack defaults to its dev chain')
    const token = await s.run('sell', 'http', 'b', '--upstream', 'http://127.0.0.1:9', '--price', '1', '--token', 'DAI', '--no-wait')
    assert.equal(token.code, 2)
    assert.match(token.err, /^vend: Unknown --token "DAI".*--token 0x<address> --token-decimals/)
    const other = await s.run('sell', 'http', 'c', '--upstream', 'http://127.0.0.1:9', '--price', '1', '--token', BOB, '--no-wait')
    assert.match(other.err, /needs --token-decimals, --token-name and --token-version/)
  } finally { s.done() }
})

test('sell inference: upstream or model file, per-MTok price, the same registration flags as sell http', async () => {
  const s = setup()
  try {
    const r = await s.run('sell', 'inference', 'llama', '--model', 'llama3.2', '--upstream', 'http://127.0.0.1:11434', '--api', 'ollama',
      '--per-mtok', '0.5', '-w', ALICE, '--max-tokens', '512', '--register-name', 'Llama', '--register-domains', 'ai', '--no-wait')
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out, 'http://127.0.0.1:8402/services/llama\n')
    assert.deepEqual(s.file('default', 'llama').spec, {
      type: 'inference', model: { name: 'llama3.2', api: 'ollama', maxTokens: 512 }, upstream: { url: 'http://127.0.0.1:11434' },
      payment: { network: 'base-sepolia', payTo: ALICE, price: { perMTok: '0.5' } },
      registration: { enabled: true, name: 'Llama', domains: ['ai'] },
    })
    const gguf = writeTemp(s.home, 'tiny.gguf', 'GGUF')
    const f = await s.run('sell', 'inference', 'tiny', '--model', 'tiny', '--model-file', gguf, '--threads', '1', '--price', '0.001', '-w', ALICE, '--no-register', '--no-wait')
    assert.equal(f.code, 0, f.err)
    assert.deepEqual(s.file('default', 'tiny').spec.model, { name: 'tiny', file: gguf, threads: 1 })
    assert.deepEqual(s.file('default', 'tiny').spec.registration, { enabled: false })

    const both = await s.run('sell', 'inference', 'x', '--model', 'm', '--upstream', 'http://127.0.0.1:1', '--model-file', gguf, '--price', '1', '-w', ALICE)
    assert.match(both.err, /^vend: --upstream and --model-file cannot be combined\./)
    const twoPrices = await s.run('sell', 'inference', 'x', '--model', 'm', '--upstream', 'http://127.0.0.1:1', '--price', '1', '--per-mtok', '2', '-w', ALICE)
    assert.match(twoPrices.err, /^vend: --price and --per-mtok are two price models\./)
    const conflict = await s.run('sell', 'inference', 'x', '--model', 'm', '--upstream', 'http://127.0.0.1:1', '--per-mtok', '2', '-w', ALICE, '--no-register', '--register-image', 'i')
    assert.match(conflict.err, /^vend: --no-register cannot be combined with --register-image\./)
    assert.ok(!existsSync(join(s.home, 'offers', 'default', 'x.yaml')))
  } finally { s.done() }
})

const inference = `# hand-written: keep this comment
apiVersion: vend.dev/v1alpha1
kind: ServiceOffer
metadata:
  name: llama
spec:
  type: inference
  model:
    name: tiny
  upstream:
    url: http://127.0.0.1:11434
  payment:
    network: base-sepolia
    payTo: "${ALICE}"
    price:
      perRequest: "0.01"
`

test('sell update switches the price model, keeps comments, and needs a flag', async () => {
  const s = setup()
  try {
    const applied = await s.run('apply', '-f', writeTemp(s.home, 'llama.yaml', inference), '--no-wait')
    assert.equal(applied.code, 0, applied.err)
    assert.equal(applied.err, '✓ Created offer default/llama\n')
    const none = await s.run('sell', 'update', 'llama')
    assert.equal(none.code, 2)
    assert.match(none.err, /^vend: Nothing to update\. Pass at least one of --pay-to, --chain, --price, --per-request or --per-mtok\.\n$/)

    const r = await s.run('sell', 'update', 'llama', '--per-mtok', '1.5', '--recipient', BOB, '--no-wait')
    assert.equal(r.code, 0, r.err)
    assert.deepEqual(s.file('default', 'llama').spec.payment, { network: 'base-sepolia', payTo: BOB, price: { perMTok: '1.5' } })
    assert.match(readFileSync(join(s.home, 'offers', 'default', 'llama.yaml'), 'utf8'), /^# hand-written: keep this comment/)

    const seven = await s.run('sell', 'update', 'llama', '--price', '0.0000001', '--no-wait')
    assert.match(seven.err, /^vend: Invalid --price "0.0000001": it has 7 decimals/)
    assert.deepEqual(s.file('default', 'llama').spec.payment.price, { perMTok: '1.5' }, 'a refused update writes nothing')
    const missing = await s.run('sell', 'update', 'nope', '--price', '1')
    assert.equal(missing.code, 1)
    assert.match(missing.err, /^vend: Offer default\/nope does not exist\./)
  } finally { s.done() }
})

test('sell stop drains; sell delete refuses without --yes when not interactive', async () => {
  const s = setup()
  try {
    await s.run('sell', 'http', 'w', '--upstream', 'http://127.0.0.1:9', '--price', '1', '-w', ALICE, '--no-wait')
    const before = Date.now()
    assert.equal((await s.run('sell', 'stop', 'w', '--grace', '30m', '--no-wait')).code, 0)
    const spec = s.file('default', 'w').spec
    assert.ok(Date.parse(spec.drainAt) >= before - 1000)
    assert.equal(spec.drainGracePeriod, '30m')
    assert.equal((await s.run('sell', 'stop', 'w', '--now', '--no-wait')).code, 0)
    assert.equal(s.file('default', 'w').spec.drainGracePeriod, '0s')

    const refused = await s.run('sell', 'delete', 'w')
    assert.equal(refused.code, 2)
    assert.match(refused.err, /^vend: Refusing to delete default\/w without confirmation\. Pass --yes to delete it\.\n$/)
    assert.ok(existsSync(join(s.home, 'offers', 'default', 'w.yaml')))
    assert.equal((await s.run('sell', 'delete', 'w', '--yes')).code, 0)
    assert.ok(!existsSync(join(s.home, 'offers', 'default', 'w.yaml')))
  } finally { s.done() }
})

test('apply writes every document or none; stack purge needs --yes', async () => {
  const s = setup()
  try {
    const two = `${inference}---\n${inference.replace('name: llama', 'name: llama2\n  namespace: ml')}`
    const dup = `${inference}---\n${inference}`
    const d = await s.run('apply', '-f', writeTemp(s.home, 'dup.yaml', dup), '--no-wait')
    assert.equal(d.code, 2)
    assert.match(d.err, /dup\.yaml:\d+: offer default\/llama appears twice/)
    assert.ok(!existsSync(join(s.home, 'offers')))
    const r = await s.run('apply', '-f', writeTemp(s.home, 'two.yaml', two), '--no-wait')
    assert.equal(r.code, 0, r.err)
    assert.equal(r.err, '✓ Created offer default/llama\n✓ Created offer ml/llama2\n')

    const purge = await s.run('stack', 'purge')
    assert.equal(purge.code, 2)
    assert.match(purge.err, /^vend: Refusing to purge .* without --yes\./)
    assert.ok(existsSync(join(s.home, 'offers')))
  } finally { s.done() }
})

function writeTemp(home: string, name: string, text: string): string {
  const dir = join(home, 'input')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, name), text)
  return join(dir, name)
}
