/**
 * Security checks on a real stack (bin/vend: stack up --dev, wallet import, sell http with an upstream secret,
 * pay --dev): private file modes, no secret or private key in logs, state, discovery documents or CLI output,
 * loopback-only control surfaces, names that cannot escape VEND_HOME, oversized and slow requests refused.
 */
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { defaultContext, type CliContext } from '../src/cli/context.ts'
import { main } from '../src/cli/main.ts'
import { DEV_KEYS } from '../src/devchain/contracts.ts'
import { isLoopback } from '../src/buyer/buyerHandler.ts'
import { rawRequest, startGateway } from '../src/gateway/testKit.ts'
import { freePort, serve, tempHome, vend, type TestServer, type VendResult } from './helpers/vend.ts'

const SECRET = 'sk-live-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4'
const WALLET_KEY = '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba'
const WALLET_PASSWORD = 'hunter2-correct-horse'
/** Every private key the flow handles (hex, no 0x, lowercase). */
const KEYS = [WALLET_KEY, ...Object.values(DEV_KEYS)].map((k) => k.slice(2).toLowerCase())

/** A non-loopback IPv4 address of this machine (eth0 etc.), if it has one. */
const lanAddress = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address

let home: { home: string; cleanup: () => void }
let upstream: TestServer
let port: number
let host: string
let keyDir: string | undefined
const outputs: VendResult[] = []
const authSeen: (string | undefined)[] = []

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<VendResult> {
  const r = await vend(home.home, args, { env: { VEND_UPSTREAM_TOKEN: SECRET, VEND_WALLET_PASSWORD: WALLET_PASSWORD, ...env } })
  outputs.push(r)
  return r
}

let slowGateway: Awaited<ReturnType<typeof startGateway>> | undefined
/** Started first and awaited last: node closes timed-out heads only every 30 s, so it runs alongside the rest. */
let slowClient: Promise<string> | undefined

before(async () => {
  slowGateway = await startGateway({ headersTimeoutMs: 1000 }, [])
  slowClient = slowloris(slowGateway.port)
  home = tempHome('vend-sec-')
  upstream = await serve((req, res) => {
    authSeen.push(req.headers.authorization)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }))
  })
  port = await freePort()
  // Listen on the machine's LAN address when it has one, so the loopback checks see a real non-loopback peer.
  host = lanAddress ?? '127.0.0.1'
  keyDir = mkdtempSync(join(tmpdir(), 'vend-sec-key-'))
  const keyFile = join(keyDir, 'key.txt')
  writeFileSync(keyFile, `${WALLET_KEY}\n`, { mode: 0o600 })
  const steps: string[][] = [
    ['wallet', 'import', '--key-file', keyFile],
    ['stack', 'up', '--dev', '--listen', `${host}:${port}`],
    ['sell', 'http', 'weather', '--upstream', upstream.url, '--price', '0.01', '--chain', 'local', '--pay-to', '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
      '--upstream-header', 'Authorization=Bearer env:VEND_UPSTREAM_TOKEN'],
  ]
  for (const s of steps) {
    const r = await run(s)
    assert.equal(r.code, 0, `vend ${s.join(' ')}: ${r.stderr}`)
  }
})

after(async () => {
  if (home) {
    await vend(home.home, ['stack', 'down', '--yes'])
    home.cleanup()
  }
  await upstream?.close()
  if (keyDir) rmSync(keyDir, { recursive: true, force: true })
  await slowGateway?.stop()
})

const base = () => `http://${host}:${port}`

test('a paid request carries the upstream secret to the upstream, and the secret and keys appear nowhere else', async () => {
  const paid = await run(['pay', '--dev', '--json', `${base()}/services/weather/today`])
  assert.equal(paid.code, 0, paid.stderr)
  assert.ok(authSeen.includes(`Bearer ${SECRET}`), 'the upstream received the secret header (the scan below is meaningful)')
  for (const s of [['get', 'offers', '-o', 'yaml'], ['ledger', 'export', '--format', 'json'], ['stack', 'logs', '--tail', '500']]) {
    const r = await run(s)
    assert.equal(r.code, 0, `vend ${s.join(' ')}: ${r.stderr}`)
  }

  const docs: [string, string][] = []
  for (const path of ['/', '/services.json', '/skill.md', '/openapi.json', '/.well-known/x402', '/services/weather/today', '/metrics', '/api/services']) {
    const r = await rawRequest(`${base()}${path}`)
    docs.push([`GET ${path} (${r.status})`, `${JSON.stringify(r.headers)}\n${r.body}`])
  }
  const files: [string, string][] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isDirectory()) { if (name !== 'devchain') walk(p) } // the dev chain's state holds only public anvil data
      else if (st.isFile()) files.push([p, readFileSync(p).toString('latin1')])
    }
  }
  walk(home.home)
  const sources: [string, string][] = [...docs, ...files.filter(([p]) => !p.endsWith('keystore.json')),
    ...outputs.map((o, i): [string, string] => [`CLI output #${i}`, o.stdout + o.stderr])]
  assert.ok(files.some(([p]) => p.endsWith('daemon.log')) && files.some(([p]) => p.endsWith('vend.db')), 'the daemon log and the database were scanned')
  for (const [where, text] of sources) {
    const lower = text.toLowerCase()
    assert.ok(!text.includes(SECRET), `the upstream secret appears in ${where}`)
    for (const k of KEYS) assert.ok(!lower.includes(k), `a private key (${k.slice(0, 6)}…) appears in ${where}`)
  }
  // The keystore holds the key encrypted only.
  const keystore = readFileSync(join(home.home, 'wallet', 'keystore.json'), 'utf8').toLowerCase()
  assert.ok(!keystore.includes(KEYS[0]!))
})

test('VEND_HOME is private: directories 0700, files 0600 (keystore, state, database, log, offers, dev chain)', () => {
  const loose: string[] = []
  const seen = new Set<string>()
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isSymbolicLink()) continue
      const rel = p.slice(home.home.length + 1)
      seen.add(rel)
      if ((st.mode & 0o077) !== 0) loose.push(`${rel} ${(st.mode & 0o777).toString(8)}`)
      if (st.isDirectory()) walk(p)
    }
  }
  if ((lstatSync(home.home).mode & 0o077) !== 0) loose.push(`VEND_HOME ${(lstatSync(home.home).mode & 0o777).toString(8)}`)
  walk(home.home)
  for (const must of ['wallet/keystore.json', 'state', 'state/vend.db', 'state/daemon.log', 'offers/default/weather.yaml', 'state/devchain']) {
    assert.ok(seen.has(must), `${must} exists (checked)`)
  }
  assert.deepEqual(loose, [], 'files or directories readable by other users')
})

test('the dev chain state file written by anvil is private too', () => {
  const dir = join(home.home, 'state', 'devchain')
  for (const name of readdirSync(dir).filter((n) => n.startsWith('anvil-state-'))) {
    assert.equal(lstatSync(join(dir, name)).mode & 0o077, 0, `${name} is ${(lstatSync(join(dir, name)).mode & 0o777).toString(8)}`)
  }
})

test('control surfaces answer loopback clients only', { skip: lanAddress ? false : 'no non-loopback address on this machine (unit check below covers isLoopback)' }, async () => {
  // The peer is this machine's LAN address, not loopback: /buy/* must refuse it.
  for (const path of ['/buy/v1/models', '/buy/v1/chat/completions']) {
    const r = await rawRequest(`${base()}${path}`, { method: path.endsWith('models') ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, body: path.endsWith('models') ? undefined : '{}' })
    assert.equal(r.status, 403, `${path} from ${host}: ${r.status} ${r.body.slice(0, 200)}`)
  }
  // The dashboard is for this machine or the operator's token only.
  for (const path of ['/dashboard', '/dashboard/api/summary']) {
    const r = await rawRequest(`${base()}${path}`)
    assert.equal(r.status, 403, `${path} from ${host}: ${r.status}`)
  }
  // The control socket is a unix socket in a private directory.
  const sock = join(home.home, 'state', 'vend.sock')
  if (existsSync(sock)) assert.equal(lstatSync(join(home.home, 'state')).mode & 0o077, 0)
})

test('the loopback check: only 127/8 and ::1 (also IPv4-mapped) count as this machine', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a)
  for (const a of [undefined, '', '192.0.2.2', '10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', 'fe80::1', '127.0.0.1.evil', '::ffff:1270.0.0.1', 'localhost']) assert.equal(isLoopback(a), false, String(a))
})

test('offer and purchase names cannot escape VEND_HOME', async () => {
  const names = ['../evil', '../../etc/x', '/tmp/evil', 'a/../../b', '..', '.', 'ok/../..', '%2e%2e', '\u2025/evil', '\uff0e\uff0e', 'a\u0000b', 'nul\\..\\x', 'ＡＢ', 'a b', 'x'.repeat(300)]
  for (const name of names) {
    const r = await cli(['sell', 'http', name, '--upstream', 'http://127.0.0.1:9', '--price', '0.01', '--chain', 'local', '--pay-to', '0x90F79bf6EB2c4f870365E785982E1f101E93b906', '--no-wait'])
    assert.notEqual(r.code, 0, `offer name ${JSON.stringify(name)} was accepted`)
    const n = await cli(['sell', 'http', 'fine', '-n', name, '--upstream', 'http://127.0.0.1:9', '--price', '0.01', '--chain', 'local', '--pay-to', '0x90F79bf6EB2c4f870365E785982E1f101E93b906', '--no-wait'])
    assert.notEqual(n.code, 0, `namespace ${JSON.stringify(name)} was accepted`)
    const b = await cli(['buy', 'remove', name])
    assert.notEqual(b.code, 0, `purchase name ${JSON.stringify(name)} was accepted`)
  }
  assert.deepEqual(readdirSync(join(home.home, 'scratch')), ['home'], 'nothing was created next to VEND_HOME')
  assert.deepEqual(readdirSync(join(home.home, 'scratch', 'home')).filter((n) => n !== 'offers' && n !== 'purchases' && n !== 'state'), [])
  assert.ok(!existsSync('/tmp/evil') && !existsSync('/tmp/evil.yaml'))
})

/** The CLI in-process on a scratch home (fast; nothing here needs the daemon). */
async function cli(argv: string[]): Promise<{ code: number; err: string }> {
  let err = ''
  const scratch = join(home.home, 'scratch', 'home')
  mkdirSync(scratch, { recursive: true, mode: 0o700 })
  const ctx: CliContext = {
    ...defaultContext({ VEND_HOME: scratch, VEND_NO_PROMPT: '1' }),
    io: { out: () => {}, err: (t) => { err += t }, stdinIsTTY: false, stdoutIsTTY: false, confirm: async () => false },
    canPrompt: () => false,
  }
  return { code: await main(argv, ctx), err }
}

test('oversized headers (431) and paid bodies (413) are refused before the gate', async () => {
  const big = await rawRequest(`${base()}/services/weather/today`, { headers: { 'x-big': 'a'.repeat(20_000) } })
  assert.equal(big.status, 431)
  // The declared length is enough: the gateway answers before reading (and the client stops after 1 KiB).
  const body = await rawRequest(`${base()}/services/weather/today`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(11 * 1024 * 1024), 'payment-signature': 'e30=' }, body: 'x'.repeat(1024) })
  assert.equal(body.status, 413)
})

/** Send a request's head one byte every 100 ms; resolve with what the server answered when it closed. */
function slowloris(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    const head = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(2000)}`
    let i = 0
    let data = ''
    const timer = setInterval(() => { if (!s.destroyed) s.write(head[i++ % head.length]!) }, 100)
    s.on('data', (d) => { data += d })
    s.on('error', () => {})
    s.on('close', () => { clearInterval(timer); resolve(data) })
  })
}

test('slow clients: a request head sent byte by byte is answered 408 and the connection closed', async () => {
  assert.match(await slowClient!, /^HTTP\/1\.1 408/)
})

test('slow clients are cut off within the server\'s headersTimeout', async () => {
  const g = await startGateway({ headersTimeoutMs: 1000 }, [])
  try {
    const closed = await Promise.race([slowloris(g.port).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))])
    assert.ok(closed, 'still open 3 s after a 1 s headersTimeout')
  } finally { await g.stop() }
})
