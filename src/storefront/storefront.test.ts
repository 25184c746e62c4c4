import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, request, type Server } from 'node:http'
import { gunzipSync } from 'node:zlib'
import type { AddressInfo } from 'node:net'
import { PaymentRequirementsV2Schema } from '@x402/core/schemas'
import { HTTPFacilitatorClient } from '@x402/core/server'
import { withBazaar } from '@x402/extensions/bazaar'
import type { CatalogEntry } from '../reconciler/types.ts'
import { createStorefrontHandler, type StorefrontOptions } from './createStorefrontHandler.ts'
import { catalogOf, FULL, LLM, OBOL, PAY_TO, REPORTS, TOKEN18, WEATHER } from './testing/catalog.ts'

type Json = any

const BASE = 'https://shop.example.com'

async function serve(opts: Partial<StorefrontOptions> & { getCatalog: () => CatalogEntry[] }): Promise<{ url: string; server: Server }> {
  const handler = createStorefrontHandler({ baseUrl: () => BASE, now: () => new Date('2026-11-23T12:00:00Z'), ...opts })
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!(await handler(req, res, url))) { res.writeHead(404, { 'x-fallthrough': '1' }); res.end('not mine') }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

let full: { url: string; server: Server }
let empty: { url: string; server: Server }
before(async () => {
  const catalog = catalogOf(FULL)
  full = await serve({ getCatalog: () => catalog, stackName: () => 'Acme <Stack>' })
  empty = await serve({ getCatalog: () => [] })
})
after(() => { full.server.close(); empty.server.close() })

const get = (base: string, path: string, init?: RequestInit) => fetch(`${base}${path}`, init)
const json = async (base: string, path: string): Promise<Json> => (await get(base, path)).json() as Promise<Json>

test('the fixtures go through the real reconciler: the offer without a payment gate is not in the catalog', () => {
  assert.deepEqual(catalogOf(FULL).map((e) => e.key).sort(), ['acme/reports', 'ai/qwen', 'default/tiny', 'default/weather'])
})

test('services.json: envelope, sort order, exact human and atomic prices, asset, badges', async () => {
  const doc = await json(full.url, '/api/services.json')
  assert.equal(doc.schemaVersion, '1')
  assert.equal(doc.displayName, 'Acme <Stack>')
  assert.deepEqual(doc.services.map((s: Json) => `${s.namespace}/${s.name}`), ['acme/reports', 'ai/qwen', 'default/tiny', 'default/weather'])
  const by = (n: string) => doc.services.find((s: Json) => s.name === n)

  const w = by('weather')
  assert.equal(w.type, 'http')
  assert.equal(w.endpoint, `${BASE}/services/weather`)
  assert.equal(w.description, "Forecasts <script>alert('xss')</script> & more")
  assert.equal(w.price, '0.000001 USDC/request')
  assert.equal(w.priceRaw, '0.000001')
  assert.equal(w.priceUnit, 'perRequest')
  assert.equal(w.priceAtomicUnits, '1')
  assert.equal(w.payTo, PAY_TO)
  assert.equal(w.network, 'base-sepolia')
  assert.equal(w.caip2Network, 'eip155:84532')
  assert.equal(w.chainId, 84532)
  assert.deepEqual(w.asset, { address: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', symbol: 'USDC', decimals: 6, transferMethod: 'eip3009', eip712Domain: { name: 'USDC', version: '2' } })
  assert.equal(w.registrationPending, true)
  assert.equal('drainEndsAt' in w, false)
  assert.equal('model' in w, false)

  const r = by('reports')
  assert.equal(r.price, '12.5 USDC/request')
  assert.equal(r.priceAtomicUnits, '12500000')
  assert.equal(r.asset.eip712Domain.name, 'USD Coin')
  assert.equal(r.registrationPending, false)
  assert.equal(r.drainEndsAt, '2026-11-23T13:00:00.000Z')
  assert.equal(r.endpoint, `${BASE}/reports`)
  assert.deepEqual(r.routes.map((x: Json) => [x.method, x.url, x.gate, x.priceAtomicUnits]), [
    ['POST', `${BASE}/reports/report`, 'paid', '12500000'],
    ['GET', `${BASE}/reports/status`, 'free', undefined],
    ['GET', `${BASE}/reports/jobs/`, 'paid', '500000'],
  ])
  assert.equal(r.routes[2].path, '/reports/jobs/*')
  assert.equal(r.routes[2].price, '0.5 USDC/request')

  const q = by('qwen')
  assert.equal(q.type, 'inference')
  assert.equal(q.model, 'qwen3:0.6b')
  assert.equal(q.price, '1.25 USDC/MTok')
  assert.equal(q.priceUnit, 'perMTok')
  assert.equal(q.priceAtomicUnits, '1250000')
  assert.equal(q.description, 'qwen3:0.6b inference via x402 micropayments')
  assert.equal(q.registrationPending, false)
  assert.equal(q.agentId, '7')
  assert.equal('agentId' in w, false)

  const t = by('tiny')
  assert.equal(t.price, '0.000000000000000001 OBOL/request')
  assert.equal(t.priceRaw, '0.000000000000000001')
  assert.equal(t.priceAtomicUnits, '1')
  assert.deepEqual(t.asset, { address: OBOL, symbol: 'OBOL', decimals: 18, transferMethod: 'eip3009', eip712Domain: { name: 'Obol Token', version: '1' } })
})

test('description falls back to registration.description, then a default', async () => {
  const withReg = WEATHER.replace(/ {2}description: .*\n/, '').replace('  type: http\n', '  type: http\n  registration: {description: "From registration"}\n')
  const plain = TOKEN18
  const c = catalogOf([withReg, plain])
  const { url, server } = await serve({ getCatalog: () => c })
  try {
    const doc = await json(url, '/api/services.json')
    assert.deepEqual(doc.services.map((s: Json) => s.description), ['x402 payment-gated HTTP API: tiny', 'From registration'])
  } finally { server.close() }
})

test('.well-known/x402: one resource per concrete paid operation with valid exact v2 requirements', async () => {
  const doc = await json(full.url, '/.well-known/x402')
  assert.equal(doc.x402Version, 2)
  const urls = doc.resources.map((r: Json) => `${r.method} ${r.resource}`)
  assert.deepEqual(urls, [
    `POST ${BASE}/reports/report`,
    `POST ${BASE}/services/qwen/v1/chat/completions`,
    `POST ${BASE}/services/qwen/v1/completions`,
    `POST ${BASE}/services/qwen/v1/embeddings`,
    `GET ${BASE}/services/tiny`,
    `GET ${BASE}/services/weather`,
  ])
  for (const r of doc.resources) {
    assert.equal(r.accepts.length, 1)
    PaymentRequirementsV2Schema.parse(r.accepts[0])
  }
  const weather = doc.resources.find((r: Json) => r.resource.endsWith('/weather')).accepts[0]
  assert.deepEqual(weather, {
    scheme: 'exact', network: 'eip155:84532', amount: '1', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
    payTo: PAY_TO, maxTimeoutSeconds: 300, extra: { name: 'USDC', version: '2' },
  })
  assert.equal(doc.resources[0].accepts[0].amount, '12500000')
  assert.equal(doc.resources[4].accepts[0].amount, '1')
  assert.equal(doc.resources[4].accepts[0].network, 'eip155:1')
})

test('openapi.json: 3.1, servers, x-payment-info on paid operations only, 402 documented', async () => {
  const doc = await json(full.url, '/openapi.json')
  assert.equal(doc.openapi, '3.1.0')
  assert.equal(doc.servers[0].url, BASE)
  assert.deepEqual(Object.keys(doc.paths).sort(), [
    '/reports/jobs/{subpath}', '/reports/report', '/reports/status',
    '/services/qwen/v1/chat/completions', '/services/qwen/v1/completions', '/services/qwen/v1/embeddings',
    '/services/tiny', '/services/weather',
  ])
  const report = doc.paths['/reports/report'].post
  assert.deepEqual(report['x-payment-info'], { price: { mode: 'fixed', currency: 'USDC', amount: '12.5' }, protocols: [{ x402: {} }] })
  assert.ok(report.responses['402'])
  const status = doc.paths['/reports/status'].get
  assert.equal(status['x-payment-info'], undefined)
  assert.equal(status.responses['402'], undefined)
  const chat = doc.paths['/services/qwen/v1/chat/completions'].post
  assert.deepEqual(chat['x-payment-info'].price, { mode: 'metered', currency: 'USDC', amount: '1.25' })
  assert.deepEqual(chat.requestBody.content['application/json'].schema.required, ['messages'])
  assert.equal(doc.paths['/services/tiny'].get['x-payment-info'].price.amount, '0.000000000000000001')
  assert.equal(doc.paths['/reports/jobs/{subpath}'].get.parameters[0].name, 'subpath')
  const ids = Object.values(doc.paths).flatMap((p: Json) => Object.values(p).map((o: Json) => o.operationId))
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique')
})

test('/discovery/resources works with the official bazaar client, with filters and paging', async () => {
  const client = withBazaar(new HTTPFacilitatorClient({ url: full.url }))
  const all = await client.extensions.bazaar.listResources()
  assert.equal(all.x402Version, 2)
  assert.equal(all.pagination.total, 6)
  assert.equal(all.items.length, 6)
  const item = all.items.find((i) => i.resource === `${BASE}/services/weather`)!
  assert.equal(item.type, 'http')
  assert.equal(item.x402Version, 2)
  assert.equal(item.accepts[0]!.amount, '1')
  assert.equal(item.lastUpdated, '2026-11-23T12:00:00.000Z')
  assert.equal(item.mimeType, 'application/json')
  assert.match(item.description ?? '', /Forecasts/)

  const page = await client.extensions.bazaar.listResources({ limit: 2, offset: 1 })
  assert.deepEqual(page.pagination, { limit: 2, offset: 1, total: 6 })
  assert.deepEqual(page.items.map((i) => i.resource), all.items.slice(1, 3).map((i) => i.resource))

  const sepolia = await client.extensions.bazaar.listResources({ network: 'base-sepolia' })
  assert.equal(sepolia.pagination.total, 4) // qwen x3 + weather
  const caip = await client.extensions.bazaar.listResources({ network: 'eip155:1' })
  assert.deepEqual(caip.items.map((i) => i.resource), [`${BASE}/services/tiny`])
  assert.equal((await client.extensions.bazaar.listResources({ payTo: PAY_TO.toLowerCase() })).pagination.total, 6)
  assert.equal((await client.extensions.bazaar.listResources({ payTo: '0x0000000000000000000000000000000000000001' })).pagination.total, 0)
  assert.equal((await client.extensions.bazaar.listResources({ type: 'mcp' })).pagination.total, 0)
})

test('skill.md: how to pay, table, per-service call shape and Try it commands, escaped text', async () => {
  const res = await get(full.url, '/skill.md')
  assert.match(res.headers.get('content-type') ?? '', /^text\/markdown/)
  const md = await res.text()
  assert.match(md, /^# Acme &lt;Stack&gt; Service Catalog/)
  assert.match(md, /## How to pay \(x402\)/)
  assert.match(md, /PAYMENT-SIGNATURE/)
  assert.match(md, /X-PAYMENT/)
  assert.match(md, /\| \[weather\]\(#default-weather\) \| http \| — \| 0\.000001 USDC\/request \| base-sepolia \| available · registration pending \|/)
  assert.match(md, /\| \[reports\]\(#acme-reports\) .* draining · ends `2026-11-23T13:00:00.000Z`/)
  assert.match(md, /0\.000000000000000001 OBOL\/request/)
  assert.match(md, new RegExp(`\\*\\*Call\\*\\*: \`POST ${BASE}/services/qwen/v1/chat/completions\` — OpenAI-compatible`))
  assert.match(md, /"stream": true/)
  assert.match(md, /- \*\*Agent identity\*\*: ERC-8004 agent #7 on `base-sepolia`/)
  assert.match(md, new RegExp(`curl -i ${BASE}/services/weather\n`))
  assert.match(md, new RegExp(`vend pay ${BASE}/services/weather\n`))
  assert.match(md, /vend pay -X POST -H 'content-type: application\/json' -d '\{"model":"qwen3:0\.6b","messages":\[\{"role":"user","content":"Hello!"\}\]\}' https:\/\/shop\.example\.com\/services\/qwen\/v1\/chat\/completions/)
  assert.match(md, /`GET https:\/\/shop\.example\.com\/reports\/status` — free/)
  assert.ok(!md.includes('<script>'), 'offer text cannot inject raw HTML')
  assert.ok(md.indexOf('### reports') < md.indexOf('### qwen') && md.indexOf('### tiny') < md.indexOf('### weather'))
})

test('empty catalog: every document is valid and says so', async () => {
  const md = await (await get(empty.url, '/skill.md')).text()
  assert.match(md, /## Services\n\n\*\*No services currently available\.\*\*/)
  assert.deepEqual((await json(empty.url, '/api/services.json')).services, [])
  assert.deepEqual((await json(empty.url, '/.well-known/x402')).resources, [])
  assert.deepEqual((await json(empty.url, '/openapi.json')).paths, {})
  assert.deepEqual((await json(empty.url, '/discovery/resources')).pagination, { limit: 100, offset: 0, total: 0 })
  const html = await (await get(empty.url, '/')).text()
  assert.match(html, /No services currently available\./)
  assert.match(html, /<title>Vend — paid APIs and inference<\/title>/)
})

test('storefront HTML: prices in token units, badges, endpoints, copyable commands, offer text escaped', async () => {
  const res = await get(full.url, '/')
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
  const csp = res.headers.get('content-security-policy') ?? ''
  assert.match(csp, /default-src 'none'/)
  assert.match(csp, /script-src 'sha256-/)
  const html = await res.text()
  assert.equal((html.match(/<script>/g) ?? []).length, 1, 'only the page\'s own copy script')
  assert.ok(!html.includes("alert('xss')"), 'no unescaped offer text')
  assert.ok(html.includes('Forecasts &lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; &amp; more'))
  assert.ok(html.includes('<h1>Acme &lt;Stack&gt;</h1>'))
  for (const s of ['0.000001 USDC', '12.5 USDC', '1.25 USDC', '0.000000000000000001 OBOL']) assert.ok(html.includes(`<strong>${s}</strong>`), s)
  assert.ok(!/\de-\d/.test(html), 'no exponent notation anywhere')
  assert.ok(html.includes('registration pending'))
  assert.ok(html.includes('ERC-8004 agent #7</span>'))
  assert.ok(html.includes('draining until 2026-11-23T13:00:00.000Z'))
  assert.ok(html.includes(`<code>${BASE}/services/weather</code>`))
  assert.ok(html.includes(`curl -i ${BASE}/services/weather</code>`))
  assert.ok(html.includes(`vend pay ${BASE}/services/weather</code>`))
  assert.ok(html.includes('data-copy="c0"'))
  // The CSP hash matches the inline script, so the copy buttons work under the policy.
  const { createHash } = await import('node:crypto')
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!
  assert.ok(csp.includes(`'sha256-${createHash('sha256').update(script).digest('base64')}'`))
})

test('CORS, caching headers, ETag/304, HEAD and OPTIONS on every discovery document', async () => {
  for (const path of ['/api/services.json', '/skill.md', '/.well-known/x402', '/openapi.json', '/discovery/resources', '/']) {
    const res = await get(full.url, path)
    assert.equal(res.status, 200, path)
    assert.equal(res.headers.get('access-control-allow-origin'), '*', path)
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /GET.*OPTIONS/)
    assert.equal(res.headers.get('access-control-expose-headers'), 'PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE')
    assert.equal(res.headers.get('cache-control'), 'public, max-age=30')
    const etag = res.headers.get('etag')
    assert.match(etag ?? '', /^"[\w-]+"$/, path)
    await res.arrayBuffer()
    const again = await get(full.url, path, { headers: { 'if-none-match': etag! } })
    assert.equal(again.status, 304, path)
    assert.equal(await again.text(), '')
    const stale = await get(full.url, path, { headers: { 'if-none-match': '"other"' } })
    assert.equal(stale.status, 200, path)
    await stale.arrayBuffer()
  }
  const head = await get(full.url, '/api/services.json', { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.ok(Number(head.headers.get('content-length')) > 100)
  assert.equal(await head.text(), '')
  const pre = await get(full.url, '/.well-known/x402', { method: 'OPTIONS', headers: { origin: 'https://other.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-custom' } })
  assert.equal(pre.status, 204)
  assert.equal(pre.headers.get('access-control-allow-origin'), '*')
  assert.equal(pre.headers.get('access-control-allow-headers'), 'x-custom')
  const post = await get(full.url, '/api/services.json', { method: 'POST', body: '{}' })
  assert.equal(post.status, 405)
  assert.equal(post.headers.get('allow'), 'GET, HEAD, OPTIONS')
  assert.match((await post.json() as Json).error, /POST is not allowed/)
})

test('the handler answers false for paths it does not serve', async () => {
  for (const path of ['/services/weather', '/api', '/api/services', '/skill.md/x', '/.well-known/other', '/favicon.ico', '/index.html', '/discovery/search']) {
    const res = await get(full.url, path)
    assert.equal(res.status, 404, path)
    assert.equal(res.headers.get('x-fallthrough'), '1', path)
    await res.arrayBuffer()
  }
})

test('documents are cached per catalog identity: a swapped array is re-rendered, the same array is not', async () => {
  let catalog = catalogOf([WEATHER])
  const { url, server } = await serve({ getCatalog: () => catalog })
  try {
    const first = await get(url, '/api/services.json')
    const etag1 = first.headers.get('etag')
    assert.equal((await first.json() as Json).services.length, 1)
    // Mutating the same array is not a catalog change (the engine swaps arrays): the cached document stays.
    catalog.push(...catalogOf([LLM]))
    const same = await get(url, '/api/services.json')
    assert.equal(same.headers.get('etag'), etag1)
    assert.equal((await same.json() as Json).services.length, 1)
    catalog = catalogOf([WEATHER, LLM, REPORTS])
    const swapped = await get(url, '/api/services.json')
    assert.notEqual(swapped.headers.get('etag'), etag1)
    assert.equal((await swapped.json() as Json).services.length, 3)
    const md = await (await get(url, '/skill.md')).text()
    assert.match(md, /### reports/)
  } finally { server.close() }
})

test('a new base URL re-renders absolute URLs', async () => {
  let base = 'http://127.0.0.1:8402'
  const c = catalogOf([WEATHER])
  const { url, server } = await serve({ getCatalog: () => c, baseUrl: () => base })
  try {
    assert.equal((await json(url, '/api/services.json')).services[0].endpoint, 'http://127.0.0.1:8402/services/weather')
    base = 'https://public.example.org/'
    assert.equal((await json(url, '/api/services.json')).services[0].endpoint, 'https://public.example.org/services/weather')
    assert.equal((await json(url, '/openapi.json')).servers[0].url, 'https://public.example.org')
  } finally { server.close() }
})

test('/.well-known/agent-registration.json: 404 until identity provides a file, then served as JSON', async () => {
  const missing = await get(full.url, '/.well-known/agent-registration.json')
  assert.equal(missing.status, 404)
  assert.equal(missing.headers.get('access-control-allow-origin'), '*')
  assert.match((await missing.json() as Json).error, /no agent registration/)
  let file: unknown
  const { url, server } = await serve({ getCatalog: () => [], getRegistrationFile: () => file })
  try {
    assert.equal((await get(url, '/.well-known/agent-registration.json')).status, 404)
    file = { type: 'https://eips.ethereum.org/EIPS/eip-8004#registration-v1', name: 'acme', x402Support: true }
    const res = await get(url, '/.well-known/agent-registration.json')
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), file)
  } finally { server.close() }
})

test('large documents are gzipped for clients that accept it, identical once decompressed', async () => {
  const raw = (path: string, headers: Record<string, string>) => new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    request(`${full.url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) })).on('error', reject)
    }).on('error', reject).end()
  })
  const plain = await raw('/skill.md', {})
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.equal(plain.headers.vary, 'Accept-Encoding')
  const zipped = await raw('/skill.md', { 'accept-encoding': 'gzip, br' })
  assert.equal(zipped.headers['content-encoding'], 'gzip')
  assert.ok(zipped.body.length < plain.body.length / 2)
  assert.equal(gunzipSync(zipped.body).toString('utf8'), plain.body.toString('utf8'))
  assert.notEqual(zipped.headers.etag, plain.headers.etag)
  assert.equal(Number(zipped.headers['content-length']), zipped.body.length)
  const revalidated = await raw('/skill.md', { 'accept-encoding': 'gzip', 'if-none-match': String(zipped.headers.etag) })
  assert.equal(revalidated.status, 304)
})
