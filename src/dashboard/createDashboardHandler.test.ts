/**
 * The dashboard handler on a real HTTP server over a real SQLite ledger: who gets in (loopback, token by header,
 * by query then cookie) and who does not (another address, a proxied request, a rebinding Host), never cached,
 * escaped, and the JSON summary.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { InvalidInputError } from '../errors/base.ts'
import { samplePayment } from '../payments/ledger/ledgerSuite.ts'
import { createSqliteLedger } from '../payments/ledger/sqliteLedger.ts'
import type { OfferStatus } from '../reconciler/types.ts'
import { openDatabase, type Db } from '../state/db.ts'
import { dashboardToken } from './access.ts'
import { createDashboardHandler } from './createDashboardHandler.ts'
import type { DashboardSummary } from './summary.ts'

const TOKEN = 'a-long-operator-token-0123456789'
const TX = `0x${'ab'.repeat(32)}`

let dir: string
let db: Db
let server: http.Server
let base: string
/** The peer address the server pretends the next requests come from (undefined: the real one). */
let fakePeer: string | undefined

const status: OfferStatus = {
  key: 'default/weather', namespace: 'default', name: 'weather', file: 'offers/default/weather.yaml', generation: 'g1', type: 'http',
  ready: false, operationallyReady: false, path: '/services/weather', drainEndsAt: undefined,
  conditions: [
    { type: 'Valid', status: 'True', reason: 'Valid', message: '' },
    { type: 'UpstreamHealthy', status: 'False', reason: 'Unreachable', message: 'GET /health: <img src=x onerror=alert(1)>' },
  ],
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vend-dash-h-'))
  db = openDatabase(join(dir, 'vend.db'))
  const ledger = createSqliteLedger(db)
  const r = await ledger.recordVerified(samplePayment({ amount: 250_000n }))
  assert.ok(r.ok)
  await ledger.markSettled(r.id, TX, 250_000n)
  const sepolia = await ledger.recordVerified(samplePayment({ network: 'eip155:84532', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', amount: 1_500_000n }))
  assert.ok(sepolia.ok)
  await ledger.markSettled(sepolia.id, TX, 1_500_000n)
  const spent = await ledger.recordVerified(samplePayment({ direction: 'spent', offer: 'weather-seller', amount: 7_000n }))
  assert.ok(spent.ok)
  await ledger.markSettled(spent.id, TX, 7_000n)
  const handler = createDashboardHandler({ db, getStatuses: () => [status], getOffers: () => new Map(), token: TOKEN })
  server = http.createServer((req, res) => {
    // Every request has its own connection (agent: false): an instance property shadows the socket's getter.
    if (fakePeer) Object.defineProperty(req.socket, 'remoteAddress', { value: fakePeer })
    void handler(req, res, new URL(req.url ?? '/', 'http://127.0.0.1')).then((handled) => { if (!handled) res.writeHead(404).end() })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(async () => {
  await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: string }

/** GET with node:http (fetch may not set Host), as if from `peer` when given. */
function get(path: string, headers: Record<string, string> = {}, peer?: string, method = 'GET'): Promise<Reply> {
  fakePeer = peer
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  }).finally(() => { fakePeer = undefined })
}

test('loopback: the page, never cached, no script allowed, every value escaped', async () => {
  const res = await get('/dashboard')
  assert.equal(res.status, 200)
  assert.equal(res.headers['cache-control'], 'no-store')
  assert.match(String(res.headers['content-security-policy']), /default-src 'none'/)
  assert.doesNotMatch(String(res.headers['content-security-policy']), /script-src/)
  const html = res.body
  assert.ok(html.includes('GET /health: &lt;img src=x onerror=alert(1)&gt;'))
  assert.ok(!html.includes('<img'))
  assert.ok(!html.includes('<script'))
  assert.match(html, /data-offer="default\/weather"/)
  assert.ok(html.includes(`data-tx="${TX}"`))
  // Base Sepolia has an explorer: the transaction and payer link to it; the dev chain's payment shows the bare hash.
  assert.ok(html.includes(`<a class="tx" href="https://sepolia.basescan.org/tx/${TX}"`))
  assert.ok(html.includes(`<span class="tx" data-tx="${TX}">`))
  assert.ok(html.includes('href="https://sepolia.basescan.org/address/0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"'))
  // What the stack bought shows apart from what it sold.
  assert.match(html, /<tr data-purchase="weather-seller">[\s\S]*?0\.007 USDC/)
})

test('another machine gets 403, as does a request through a local proxy or under a foreign Host', async () => {
  for (const [headers, peer] of [[{}, '203.0.113.7'], [{ 'x-forwarded-for': '203.0.113.7' }, undefined], [{ host: 'rebind.example:8402' }, undefined]] as const) {
    const res = await get('/dashboard', { ...headers, accept: 'text/html' }, peer)
    assert.equal(res.status, 403, JSON.stringify(headers))
    assert.equal(res.headers['cache-control'], 'no-store')
    const body = res.body
    assert.match(body, /only served to this machine/)
    assert.ok(!body.includes('default/weather'))
  }
  const json = await get('/dashboard/api/summary', {}, '203.0.113.7')
  assert.equal(json.status, 403)
  assert.match((JSON.parse(json.body) as { hint: string }).hint, /dashboardToken/)
})

test('the token: by header; by query once, then an HttpOnly SameSite=Strict cookie; a wrong one is refused', async () => {
  const peer = '198.51.100.20'
  assert.equal((await get('/dashboard', { authorization: `Bearer ${TOKEN}` }, peer)).status, 200)
  assert.equal((await get('/dashboard', { authorization: `Bearer ${TOKEN}x` }, peer)).status, 403)
  assert.equal((await get('/dashboard?token=nope', {}, peer)).status, 403)

  const login = await get(`/dashboard?range=1h&token=${TOKEN}`, {}, peer)
  assert.equal(login.status, 303)
  assert.equal(login.headers.location, '/dashboard?range=1h', 'the token leaves the address bar')
  const cookie = login.headers['set-cookie']?.[0] ?? ''
  assert.match(cookie, /HttpOnly/)
  assert.match(cookie, /SameSite=Strict/)
  assert.match(cookie, /Path=\/dashboard/)
  assert.ok(!cookie.includes(TOKEN), 'the cookie does not hold the token itself')
  const session = cookie.split(';')[0]!
  const page = await get('/dashboard?range=1h', { cookie: session }, peer)
  assert.equal(page.status, 200)
  assert.equal((await get('/dashboard', { cookie: `${session.slice(0, -2)}xx` }, peer)).status, 403)
})

test('JSON summary, 405 on writes, 404 on other dashboard paths, other paths left to the next handler', async () => {
  const res = await get('/dashboard/api/summary?range=1h')
  assert.equal(res.status, 200)
  assert.equal(res.headers['cache-control'], 'no-store')
  const s = JSON.parse(res.body) as DashboardSummary
  assert.deepEqual(s.offers.map((o) => [o.key, o.state, o.earnings.map((t) => `${t.settled.amount} ${t.token.symbol} on ${t.token.chain}`)]),
    [['default/weather', 'not ready', ['0.25 USDC on local', '1.5 USDC on base-sepolia']]])
  assert.equal(s.recent.length, 2, 'spent rows are not among the payments received')
  assert.equal(s.chart.buckets.length, 60)
  assert.equal(s.chart.buckets.at(-1)!.requests, 2)

  assert.equal((await get('/dashboard', {}, undefined, 'POST')).status, 405)
  assert.equal((await get('/dashboard/nope')).status, 404)
  assert.equal((await get('/dashboardx')).status, 404)
})

test('dashboardToken reads the named environment variable and refuses a missing or short one', () => {
  assert.equal(dashboardToken({}), undefined)
  assert.equal(dashboardToken({ dashboardToken: { env: 'DASH' } }, { DASH: TOKEN }), TOKEN)
  assert.throws(() => dashboardToken({ dashboardToken: { env: 'DASH' } }, {}), (err: unknown) => err instanceof InvalidInputError && /DASH, which is not set/.test(err.message))
  assert.throws(() => dashboardToken({ dashboardToken: { env: 'DASH' } }, { DASH: 'short' }), InvalidInputError)
})

test('a summary is reused for cacheMs however often it is asked for, then computed afresh', async () => {
  let t = Date.parse('2026-11-23T12:00:00.000Z')
  const handler = createDashboardHandler({ db, getStatuses: () => [], getOffers: () => new Map(), now: () => new Date(t), cacheMs: 2000 })
  const settled = async (): Promise<string> => {
    let body = ''
    const res = {
      writeHead: () => res, end: (b?: Buffer) => { body = b?.toString('utf8') ?? '' },
    } as unknown as http.ServerResponse
    const req = { method: 'GET', headers: { host: '127.0.0.1' }, socket: { remoteAddress: '127.0.0.1' } } as unknown as http.IncomingMessage
    assert.equal(await handler(req, res, new URL('http://127.0.0.1/dashboard/api/summary')), true)
    return (JSON.parse(body) as DashboardSummary).totals.map((x) => x.settled.atomic).join(',')
  }
  const before = await settled()
  const r = await createSqliteLedger(db).recordVerified(samplePayment({ amount: 1n, nonce: `0x${'cd'.repeat(32)}` }))
  assert.ok(r.ok)
  await createSqliteLedger(db).markSettled(r.id, TX, 1n)
  t += 1999
  assert.equal(await settled(), before)
  t += 1
  assert.notEqual(await settled(), before)
})
