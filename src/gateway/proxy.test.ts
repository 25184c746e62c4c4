import { test } from 'node:test'
import assert from 'node:assert/strict'
import http, { type IncomingHttpHeaders } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rawRequest, routeEntry, startGateway, startServer } from './testKit.ts'

const FREE = [{ path: '/*', gate: 'free' as const }]

test('free route: prefix stripped, query kept, upstream base path prepended, POST body streamed', async () => {
  const seen: { url: string | undefined; method: string | undefined; body: string; te: string | undefined }[] = []
  const up = await startServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => {
      seen.push({ url: req.url, method: req.method, body, te: req.headers['transfer-encoding'] })
      res.writeHead(201, { 'content-type': 'text/plain' })
      res.end(`got ${body.length}`)
    })
  })
  const g = await startGateway({}, [routeEntry({ name: 'weather', upstream: `${up.url}/v2/api/`, routes: FREE })])
  try {
    const get = await rawRequest(`${g.url}/services/weather/today?x=1&y=a%20b`)
    assert.equal(get.status, 201)
    const post = await rawRequest(`${g.url}/services/weather`, { method: 'POST', body: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } })
    assert.equal(post.status, 201)
    assert.equal(post.body, 'got 100000')
    assert.equal((await rawRequest(`${g.url}/services/weather/item/7`, { method: 'DELETE' })).status, 201)
    const chunked = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${g.url}/services/weather/upload`, { method: 'PUT', agent: false }, (res) => {
        let text = ''
        res.on('data', (c) => { text += c })
        res.on('end', () => resolve(text))
      })
      req.on('error', reject)
      req.write('part one, ')
      setImmediate(() => req.end('part two'))
    })
    assert.equal(chunked, 'got 18')
    // Requests without a declared body go upstream without one (no chunked empty body).
    assert.deepEqual(seen.map((s) => [s.method, s.url, s.body.length, s.method === 'PUT' ? 'n/a' : s.te]), [
      ['GET', '/v2/api/today?x=1&y=a%20b', 0, undefined], ['POST', '/v2/api', 100_000, undefined],
      ['DELETE', '/v2/api/item/7', 0, undefined], ['PUT', '/v2/api/upload', 18, 'n/a'],
    ])
  } finally {
    await g.stop()
    await up.close()
  }
})

test('hop-by-hop and payment headers are dropped, X-Forwarded-* set, secret upstream headers resolved at setRoutes', async () => {
  let got: IncomingHttpHeaders = {}
  const up = await startServer((req, res) => {
    got = req.headers
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes', 'keep-alive': 'timeout=77', 'x-private': 'drop me', connection: 'x-private' })
    res.end('{}')
  })
  const dir = mkdtempSync(join(tmpdir(), 'vend-gw-'))
  const keyFile = join(dir, 'key')
  writeFileSync(keyFile, 'file-secret\n')
  const entry = routeEntry({
    name: 'w', upstream: up.url, routes: FREE,
    spec: { upstream: { url: up.url, headers: { Authorization: { env: 'VEND_TEST_UPSTREAM_KEY', prefix: 'Bearer ' }, 'X-Api-Key': { file: keyFile } } } },
  })
  const g = await startGateway({ env: { VEND_TEST_UPSTREAM_KEY: 'env-secret' } }, [entry])
  try {
    const res = await rawRequest(`${g.url}/services/w/x`, {
      headers: {
        connection: 'keep-alive, x-hop', 'x-hop': '1', te: 'trailers', 'proxy-authorization': 'Basic abc', 'x-end': 'kept',
        'payment-signature': 'c2ln', 'x-payment': 'eA==', authorization: 'Bearer client-forged', 'x-forwarded-for': '10.0.0.1',
        'x-forwarded-proto': 'gopher', host: 'shop.example',
      },
    })
    assert.equal(res.status, 200)
    for (const h of ['x-hop', 'te', 'proxy-authorization', 'payment-signature', 'x-payment']) assert.equal(got[h], undefined, `${h} forwarded`)
    assert.equal(got['x-end'], 'kept')
    assert.equal(got['authorization'], 'Bearer env-secret')
    assert.equal(got['x-api-key'], 'file-secret')
    assert.equal(got['x-forwarded-for'], '10.0.0.1, 127.0.0.1')
    assert.equal(got['x-forwarded-proto'], 'http')
    assert.equal(got['x-forwarded-host'], 'shop.example')
    assert.equal(got['host'], `127.0.0.1:${up.port}`)
    assert.equal(res.headers['x-upstream'], 'yes')
    assert.equal(res.headers['x-private'], undefined)
    assert.notEqual(res.headers['keep-alive'], 'timeout=77')
  } finally {
    await g.stop()
    await up.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a missing upstream secret makes the offer answer 503 instead of forwarding without it', async () => {
  let called = false
  const up = await startServer((_req, res) => { called = true; res.end('{}') })
  const entry = routeEntry({ name: 'w', routes: FREE, spec: { upstream: { url: up.url, headers: { Authorization: { env: 'VEND_TEST_UNSET_KEY' } } } } })
  const logged: string[] = []
  const g = await startGateway({ env: {}, log: (event, fields) => logged.push(`${event} ${JSON.stringify(fields)}`) }, [entry])
  try {
    const res = await rawRequest(`${g.url}/services/w/x`)
    assert.equal(res.status, 503)
    assert.match(JSON.parse(res.body).error, /VEND_TEST_UNSET_KEY/)
    assert.equal(called, false)
    assert.ok(logged.some((l) => l.includes('VEND_TEST_UNSET_KEY')))
  } finally {
    await g.stop()
    await up.close()
  }
})

test('SSE through a free route arrives event by event', async () => {
  const order: string[] = []
  let firstSeen!: () => void
  const clientGotFirst = new Promise<void>((resolve) => { firstSeen = resolve })
  const up = await startServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write('data: one\n\n')
    // Wait until the client saw the first event (fallback: a buffering proxy would never deliver it).
    await Promise.race([clientGotFirst, new Promise((r) => setTimeout(r, 3_000))])
    order.push('upstream sends last')
    res.write('data: two\n\n')
    res.end('data: [DONE]\n\n')
  })
  const g = await startGateway({}, [routeEntry({ name: 'llm', upstream: up.url, routes: FREE })])
  try {
    const res = await fetch(`${g.url}/services/llm/v1/chat`)
    assert.equal(res.headers.get('content-type'), 'text/event-stream')
    const reader = res.body!.getReader()
    let text = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      text += Buffer.from(value).toString('utf8')
      if (text.includes('data: one') && !order.includes('client got first')) { order.push('client got first'); firstSeen() }
    }
    assert.deepEqual(order, ['client got first', 'upstream sends last'])
    assert.equal(text, 'data: one\n\ndata: two\n\ndata: [DONE]\n\n')
  } finally {
    await g.stop()
    await up.close()
  }
})

test('upstream down answers 502 JSON', async () => {
  const up = await startServer(() => {})
  await up.close() // the port is now closed
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url, routes: FREE })])
  try {
    const res = await rawRequest(`${g.url}/services/w/x`)
    assert.equal(res.status, 502)
    assert.match(JSON.parse(res.body).error, /could not be reached/)
  } finally {
    await g.stop()
  }
})

test('upstream slower than timeoutSeconds answers 504 JSON', async () => {
  const up = await startServer(() => { /* never answers */ })
  const g = await startGateway({}, [routeEntry({ name: 'w', routes: FREE, spec: { upstream: { url: up.url, timeoutSeconds: 1 } } })])
  try {
    const res = await rawRequest(`${g.url}/services/w/slow`)
    assert.equal(res.status, 504)
    assert.match(JSON.parse(res.body).error, /did not answer in time/)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('a client abort aborts the upstream request', async () => {
  let upstreamClosed!: () => void
  const closed = new Promise<void>((resolve) => { upstreamClosed = resolve })
  let arrived!: () => void
  const reached = new Promise<void>((resolve) => { arrived = resolve })
  const up = await startServer((req, res) => {
    res.on('close', () => upstreamClosed())
    arrived()
    void req
  })
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url, routes: FREE })])
  try {
    const req = http.request(`${g.url}/services/w/hang`, { agent: false })
    req.on('error', () => {})
    req.end()
    await reached
    req.destroy()
    await closed // resolves only if the gateway tore down its upstream request
    assert.equal(g.gw.inFlight(), 0)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('dot segments and encoded separators are refused before routing upstream', async () => {
  let called = false
  const up = await startServer((_req, res) => { called = true; res.end('{}') })
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url, routes: [{ path: '/public/*', gate: 'free' }, { path: '/admin' }] })])
  try {
    for (const p of ['/services/w/public/../admin', '/services/w/public/%2e%2e/admin', '/services/w/public%2F..%2Fadmin', '/services/w/./public/x']) {
      const res = await rawRequest(`${g.url}${p}`)
      assert.equal(res.status, 400, p)
    }
    assert.equal(called, false)
    assert.equal((await rawRequest(`${g.url}/services/w/public/file.v1.json`)).status, 200)
  } finally {
    await g.stop()
    await up.close()
  }
})

test('stop() lets in-flight requests finish, then refuses new connections', async () => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let arrived!: () => void
  const reached = new Promise<void>((resolve) => { arrived = resolve })
  const up = await startServer(async (_req, res) => { arrived(); await gate; res.end('finished') })
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url, routes: FREE })])
  try {
    const pending = rawRequest(`${g.url}/services/w/x`)
    await reached
    const stopped = g.gw.stop(10_000)
    release()
    const res = await pending
    assert.equal(res.status, 200)
    assert.equal(res.body, 'finished')
    await stopped
    await assert.rejects(rawRequest(`${g.url}/healthz`))
  } finally {
    await up.close()
  }
})

test('request bodies stream to the upstream: the first part arrives before the client sends the rest', async () => {
  const order: string[] = []
  let gotFirst!: () => void
  const upstreamGotFirst = new Promise<void>((resolve) => { gotFirst = resolve })
  const up = await startServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
      if (body.includes('first') && !order.includes('upstream got first')) { order.push('upstream got first'); gotFirst() }
    })
    req.on('end', () => res.end(body))
  })
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url, routes: FREE })])
  try {
    const echoed = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${g.url}/services/w/upload`, { method: 'POST', agent: false }, (res) => {
        let text = ''
        res.on('data', (c) => { text += c })
        res.on('end', () => resolve(text))
      })
      req.on('error', reject)
      req.write('first;')
      // A buffering proxy would hold the first part until the end: the fallback timer then sends the rest first.
      void Promise.race([upstreamGotFirst, new Promise((r) => setTimeout(r, 3_000))]).then(() => {
        order.push('client sends rest')
        req.end('rest')
      })
    })
    assert.equal(echoed, 'first;rest')
    assert.deepEqual(order, ['upstream got first', 'client sends rest'])
  } finally {
    await g.stop()
    await up.close()
  }
})

test('large responses reach a slow client intact (upstream paused and resumed under backpressure)', async () => {
  const chunk = Buffer.alloc(64 * 1024)
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251
  const count = 256 // 16 MiB
  const up = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    let sent = 0
    const pump = () => {
      while (sent < count) {
        sent++
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      res.end()
    }
    pump()
  })
  const g = await startGateway({}, [routeEntry({ name: 'w', upstream: up.url, routes: FREE })])
  try {
    const { total, intact } = await new Promise<{ total: number; intact: boolean }>((resolve, reject) => {
      http.get(`${g.url}/services/w/big`, { agent: false }, (res) => {
        let total = 0
        let intact = true
        res.pause()
        setTimeout(() => res.resume(), 300) // let the buffers fill up first
        res.on('data', (c: Buffer) => {
          for (let i = 0; i < c.length; i += 4099) if (c[i] !== (total + i) % chunk.length % 251) intact = false
          total += c.length
        })
        res.on('end', () => resolve({ total, intact }))
        res.on('error', reject)
      }).on('error', reject)
    })
    assert.equal(total, chunk.length * count)
    assert.equal(intact, true)
  } finally {
    await g.stop()
    await up.close()
  }
})
