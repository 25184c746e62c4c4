import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { PaymentGate } from './createGateway.ts'
import { createGateway, GatewayListenError, parseListen } from './createGateway.ts'
import { rawRequest, routeEntry, startGateway, startServer } from './testKit.ts'

const FREE = [{ path: '/*', gate: 'free' as const }]

test('before the first setRoutes: offer paths 503, /readyz 503 then 200, /healthz always 200', async () => {
  const up = await startServer((_req, res) => res.end('{}'))
  const g = await startGateway()
  try {
    assert.equal((await rawRequest(`${g.url}/healthz`)).status, 200)
    assert.equal((await rawRequest(`${g.url}/readyz`)).status, 503)
    const early = await rawRequest(`${g.url}/services/w/x`)
    assert.equal(early.status, 503)
    assert.ok(early.headers['retry-after'])
    assert.equal(g.gw.isReady(), false)
    g.gw.setRoutes([routeEntry({ name: 'w', upstream: up.url, routes: FREE })])
    assert.equal((await rawRequest(`${g.url}/readyz`)).status, 200)
    assert.equal((await rawRequest(`${g.url}/services/w/x`)).status, 200)
    assert.equal((await rawRequest(`${g.url}/healthz`)).status, 200)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('an unhealthy offer answers 503 with Retry-After and never a 402 or 404', async () => {
  let called = false
  const up = await startServer((_req, res) => { called = true; res.end('{}') })
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url, state: 'unhealthy' })])
  try {
    const res = await rawRequest(`${g.url}/services/w/today`)
    assert.equal(res.status, 503)
    assert.ok(Number(res.headers['retry-after']) > 0)
    assert.equal(res.headers['payment-required'], undefined)
    assert.equal(called, false)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('a payment header with the default gate answers 503 and never calls the upstream', async () => {
  let called = false
  const up = await startServer((_req, res) => { called = true; res.end('{}') })
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url })])
  try {
    for (const header of ['payment-signature', 'x-payment']) {
      const res = await rawRequest(`${g.url}/services/w/today`, { headers: { [header]: 'eyJ4NDAyVmVyc2lvbiI6Mn0=' } })
      assert.equal(res.status, 503)
      assert.equal(JSON.parse(res.body).error, 'settlement not configured')
    }
    assert.equal(called, false)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('longest prefix wins between /services/a and /services/a/b, on segment boundaries', async () => {
  const mk = (tag: string) => startServer((req, res) => res.end(`${tag} ${req.url}`))
  const [a, b] = await Promise.all([mk('a'), mk('b')])
  const g = await startGateway({}, [
    routeEntry({ name: 'a', path: '/services/a', upstream: a.url, routes: FREE }),
    routeEntry({ name: 'b', path: '/services/a/b', upstream: b.url, routes: FREE }),
  ])
  try {
    const body = async (p: string) => (await rawRequest(`${g.url}${p}`)).body
    assert.equal(await body('/services/a/b/c?d=1'), 'b /c?d=1')
    assert.equal(await body('/services/a/b'), 'b /')
    assert.equal(await body('/services/a/bc'), 'a /bc')
    assert.equal(await body('/services/a/x/b'), 'a /x/b')
    assert.equal(await body('/services/a'), 'a /')
    assert.equal((await rawRequest(`${g.url}/services/ab`)).status, 404)
  } finally {
    await g.stop()
    await Promise.all([a.close(), b.close()])
  }
})

test('routes[]: free and paid sub-routes, methods, and 404 for paths matching none (fail closed)', async () => {
  const up = await startServer((req, res) => res.end(`${req.method} ${req.url}`))
  const g = await startGateway({}, [routeEntry({
    name: 'w', upstream: up.url,
    routes: [{ path: '/health', gate: 'free' }, { path: '/public/*', gate: 'free' }, { path: '/today', methods: ['GET'] }],
  })])
  try {
    assert.equal((await rawRequest(`${g.url}/services/w/health`)).body, 'GET /health')
    assert.equal((await rawRequest(`${g.url}/services/w/public`)).body, 'GET /public')
    assert.equal((await rawRequest(`${g.url}/services/w/public/a/b`)).body, 'GET /public/a/b')
    assert.equal((await rawRequest(`${g.url}/services/w/today`)).status, 402)
    const post = await rawRequest(`${g.url}/services/w/today`, { method: 'POST' })
    assert.equal(post.status, 405)
    assert.equal(post.headers['allow'], 'GET')
    for (const p of ['/services/w/health/x', '/services/w/other', '/services/w', '/services/w/publicity']) {
      assert.equal((await rawRequest(`${g.url}${p}`)).status, 404, p)
    }
  } finally {
    await g.stop()
    await up.close()
  }
})

test('reserved paths go to the system handler; false or unknown paths answer 404 JSON', async () => {
  const seen: string[] = []
  const g = await startGateway({
    systemHandler: (req, res, url) => {
      seen.push(url.pathname)
      if (url.pathname !== '/skill.md') return false
      res.end('# skills')
      return true
    },
  }, [])
  try {
    assert.equal((await rawRequest(`${g.url}/skill.md`)).body, '# skills')
    const missing = await rawRequest(`${g.url}/api/nothing`)
    assert.equal(missing.status, 404)
    assert.match(String(missing.headers['content-type']), /json/)
    const unknown = await rawRequest(`${g.url}/not/an/offer`)
    assert.equal(unknown.status, 404)
    assert.equal(typeof JSON.parse(unknown.body).error, 'string')
    assert.deepEqual(seen, ['/skill.md', '/api/nothing'])
  } finally {
    await g.stop()
  }
})

test('maxInFlight and rps limits answer 429 with Retry-After', async () => {
  let release!: () => void
  const hold = new Promise<void>((resolve) => { release = resolve })
  let arrived!: () => void
  const reached = new Promise<void>((resolve) => { arrived = resolve })
  const up = await startServer(async (req, res) => {
    if (req.url === '/hold') { arrived(); await hold }
    res.end('ok')
  })
  const g = await startGateway({}, [
    routeEntry({ name: 'c', upstream: up.url, routes: FREE, spec: { limits: { maxInFlight: 1 } } }),
    routeEntry({ name: 'r', upstream: up.url, routes: FREE, spec: { limits: { rps: 0.01 } } }),
  ])
  try {
    const first = rawRequest(`${g.url}/services/c/hold`)
    await reached
    const second = await rawRequest(`${g.url}/services/c/other`)
    assert.equal(second.status, 429)
    assert.ok(Number(second.headers['retry-after']) >= 1)
    release()
    assert.equal((await first).status, 200)
    assert.equal((await rawRequest(`${g.url}/services/c/other`)).status, 200)

    assert.equal((await rawRequest(`${g.url}/services/r/x`)).status, 200)
    const limited = await rawRequest(`${g.url}/services/r/x`)
    assert.equal(limited.status, 429)
    assert.ok(Number(limited.headers['retry-after']) >= 1)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('swapping the route table while requests are in flight: they finish, new requests see the new table', async () => {
  let release!: () => void
  const hold = new Promise<void>((resolve) => { release = resolve })
  let arrived!: () => void
  const reached = new Promise<void>((resolve) => { arrived = resolve })
  const old = await startServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('old-start ')
    arrived()
    await hold
    res.end('old-end')
  })
  const next = await startServer((_req, res) => res.end('new'))
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: old.url, routes: FREE })])
  try {
    const pending = rawRequest(`${g.url}/services/w/x`)
    await reached
    g.gw.setRoutes([routeEntry({ name: 'w', upstream: next.url, routes: FREE }), routeEntry({ name: 'v', upstream: next.url, routes: FREE })])
    assert.equal((await rawRequest(`${g.url}/services/w/x`)).body, 'new')
    g.gw.setRoutes([routeEntry({ name: 'v', upstream: next.url, routes: FREE })])
    assert.equal((await rawRequest(`${g.url}/services/w/x`)).status, 404)
    release()
    const res = await pending
    assert.equal(res.status, 200)
    assert.equal(res.body, 'old-start old-end')
  } finally {
    await g.stop()
    await Promise.all([old.close(), next.close()])
  }
})

test('PaymentGate seam: the gate gets requirements, opens the upstream and streams it back with extra headers and trailers', async () => {
  const upstreamSaw: Record<string, unknown>[] = []
  const up = await startServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => {
      upstreamSaw.push({ url: req.url, body, sig: req.headers['payment-signature'], extra: req.headers['x-vend-payer'] })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"answer":42}')
    })
  })
  const gate: PaymentGate = {
    async handle(ctx) {
      if (ctx.payment.header !== 'good') { ctx.challenge('invalid_signature', { reason: 'bad' }); return }
      assert.equal(ctx.paymentRequired.accepts[0]!.amount, '10000')
      assert.equal(ctx.paymentRequired.resource.url, ctx.url.toString())
      assert.equal(ctx.paymentRequirementsV1[0]!.maxAmountRequired, '10000')
      const upRes = await ctx.openUpstream({ 'x-vend-payer': '0xabc' })
      const result = await ctx.sendUpstream(upRes, { 'payment-response': 'receipt' }, () => ({ 'x-settled': 'yes' }))
      assert.equal(result, 'completed')
    },
  }
  const g = await startGateway({ paymentGate: gate }, [routeEntry({ name: 'w', upstream: up.url })])
  try {
    const ok = await rawRequest(`${g.url}/services/w/ask?q=1`, { method: 'POST', body: 'question', headers: { 'payment-signature': 'good' } })
    assert.equal(ok.status, 200)
    assert.equal(ok.body, '{"answer":42}')
    assert.equal(ok.headers['payment-response'], 'receipt')
    assert.equal(ok.trailers['x-settled'], 'yes')
    assert.deepEqual(upstreamSaw, [{ url: '/ask?q=1', body: 'question', sig: undefined, extra: '0xabc' }])

    const bad = await rawRequest(`${g.url}/services/w/ask`, { headers: { 'payment-signature': 'bad' } })
    assert.equal(bad.status, 402)
    assert.equal(decodePaymentRequiredHeader(bad.headers['payment-required'] as string).error, 'invalid_signature')
    assert.equal(JSON.parse(bad.body).reason, 'bad')

    g.gw.setPaymentGate({ async handle(ctx) { ctx.sendJson(418, { error: 'teapot' }) } })
    assert.equal((await rawRequest(`${g.url}/services/w/ask`, { headers: { 'x-payment': 'any' } })).status, 418)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('/metrics reports requests by offer and outcome, 402s and upstream latency', async () => {
  const up = await startServer((_req, res) => res.end('{}'))
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url, routes: [{ path: '/free', gate: 'free' }, { path: '/paid' }] })])
  try {
    await rawRequest(`${g.url}/services/w/free`)
    await rawRequest(`${g.url}/services/w/paid`)
    await rawRequest(`${g.url}/services/w/paid`)
    const text = (await rawRequest(`${g.url}/metrics`)).body
    assert.match(text, /vend_gateway_requests_total\{offer="default\/w",outcome="free"\} 1/)
    assert.match(text, /vend_gateway_requests_total\{offer="default\/w",outcome="payment_required"\} 2/)
    assert.match(text, /vend_gateway_payment_required_total\{offer="default\/w"\} 2/)
    assert.match(text, /vend_gateway_upstream_latency_seconds_count\{offer="default\/w"\} 1/)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('parseListen accepts host:port and [v6]:port, rejects the rest', () => {
  assert.deepEqual(parseListen('127.0.0.1:8402'), { host: '127.0.0.1', port: 8402 })
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 })
  for (const bad of ['8402', 'localhost', '127.0.0.1:99999', ':80']) assert.throws(() => parseListen(bad), /Invalid listen address/)
})

test('PaymentGate seam: the gate can send its own body to another upstream path (inference rewrite)', async () => {
  const seen: { url: string | undefined; body: string; length: string | undefined }[] = []
  const up = await startServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => { seen.push({ url: req.url, body, length: req.headers['content-length'] }); res.end('ok') })
  })
  const gate: PaymentGate = {
    async handle(ctx) {
      let original = ''
      for await (const c of ctx.req) original += c
      const up = await ctx.openUpstream({}, { path: '/v1/chat/completions', body: original.toUpperCase() + '!' })
      await ctx.sendUpstream(up, { 'X-Mixed-Case': 'v' })
    },
  }
  const g = await startGateway({ paymentGate: gate }, [routeEntry({ name: 'llm', upstream: `${up.url}/base` })])
  try {
    const res = await rawRequest(`${g.url}/services/llm/anything?q=1`, { method: 'POST', body: 'héllo', headers: { 'payment-signature': 'x' } })
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-mixed-case'], 'v')
    assert.deepEqual(seen, [{ url: '/v1/chat/completions', body: 'HÉLLO!', length: String(Buffer.byteLength('HÉLLO!')) }])
  } finally {
    await g.stop()
    await up.close()
  }
})

test('oversized request headers are refused (431) and paid bodies above the limit get 413 before the gate runs', async () => {
  let gateCalled = false
  const g = await startGateway({ maxPaidBodyBytes: 10, paymentGate: { async handle() { gateCalled = true } } }, [routeEntry({ name: 'w' })])
  try {
    assert.equal((await rawRequest(`${g.url}/services/w`, { headers: { 'x-big': 'a'.repeat(20_000) } })).status, 431)
    const big = await rawRequest(`${g.url}/services/w`, { method: 'POST', body: 'x'.repeat(11), headers: { 'payment-signature': 'x' } })
    assert.equal(big.status, 413)
    assert.equal(gateCalled, false)
  } finally {
    await g.stop()
  }
})

test('an offer without an upstream URL yet (embedded model still loading) answers 503, never 402', async () => {
  const entry = routeEntry({ name: 'llm', spec: { type: 'inference', upstream: undefined, model: { name: 'tiny', file: '/models/tiny.gguf' }, payment: { network: 'base-sepolia', payTo: '0x1111111111111111111111111111111111111111', price: { perMTok: '1' } } } })
  const g = await startGateway({}, [entry])
  try {
    const res = await rawRequest(`${g.url}/services/llm/v1/chat/completions`, { method: 'POST', body: '{}' })
    assert.equal(res.status, 503)
    assert.ok(res.headers['retry-after'])
    assert.equal(res.headers['payment-required'], undefined)
  } finally {
    await g.stop()
  }
})

test('a port already in use fails start() with a GatewayListenError that says what to do', async () => {
  const busy = await startServer((_req, res) => res.end())
  const gw = createGateway({ listen: `127.0.0.1:${busy.port}`, baseUrl: () => 'http://x' })
  try {
    await assert.rejects(gw.start(), (err: unknown) => err instanceof GatewayListenError && /EADDRINUSE/.test(err.shortMessage) && /another --listen/.test(err.hint ?? ''))
  } finally {
    await gw.stop(0)
    await busy.close()
  }
})
