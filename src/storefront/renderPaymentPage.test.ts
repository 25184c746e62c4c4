import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { Gateway } from '../gateway/createGateway.ts'
import { renderPaymentPage } from './renderPaymentPage.ts'
import { FULL, PAY_TO, reconcileFixtures, startGatewayWithStorefront, WEATHER } from './testing/catalog.ts'

let gw: Gateway
let base: string
before(async () => {
  ({ base, gateway: gw } = await startGatewayWithStorefront(FULL))
})
after(() => gw.stop(100))

const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }

test('a browser on a paid route gets the HTML 402 page with the exact price, network, payTo and ways to pay', async () => {
  const res = await fetch(`${base}/services/weather?city=Z%C3%BCrich`, { headers: browser })
  assert.equal(res.status, 402)
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
  const challenge = decodePaymentRequiredHeader(res.headers.get('payment-required')!)
  const url = `${base}/services/weather?city=Z%C3%BCrich`
  assert.equal(challenge.resource.url, url)
  const html = await res.text()
  assert.ok(html.includes('<div class="amount">0.000001 USDC</div>'))
  assert.ok(!html.includes('1e-6'))
  assert.ok(html.includes('base-sepolia'))
  assert.ok(html.includes('eip155:84532'))
  assert.ok(html.includes(`<code>${PAY_TO}</code>`))
  assert.ok(html.includes(`<code>${url}</code>`))
  // The query's "?" is a shell glob character: the URL is single-quoted in the commands.
  assert.ok(html.includes(`vend pay &#39;${url}&#39;</code>`))
  assert.ok(html.includes(`curl -i &#39;${url}&#39;</code>`))
  assert.ok(html.includes('wrapFetchWithPayment'))
  assert.ok(html.includes('PAYMENT-SIGNATURE'))
  assert.ok(html.includes('Forecasts &lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; &amp; more'))
  assert.ok(!html.includes("<script>alert('xss')"))
})

test('the 402 page of an 18-decimal token shows its smallest unit in full', async () => {
  const html = await (await fetch(`${base}/services/tiny`, { headers: browser })).text()
  assert.ok(html.includes('<div class="amount">0.000000000000000001 OBOL</div>'))
  assert.ok(html.includes('Payment required: tiny — 0.000000000000000001 OBOL'))
})

test('the 402 page of a 12.5 USDC route and of an inference offer', async () => {
  const report = await (await fetch(`${base}/reports/report`, { method: 'POST', headers: browser })).text()
  assert.ok(report.includes('<div class="amount">12.5 USDC</div>'))
  const llm = await fetch(`${base}/services/qwen`, { headers: browser })
  assert.equal(llm.status, 402)
  const html = await llm.text()
  const amount = decodePaymentRequiredHeader(llm.headers.get('payment-required')!).accepts[0]!.amount
  assert.equal(amount, '1280') // 1.25 USDC per MTok x 1024 max tokens, rounded up
  assert.ok(html.includes('<div class="amount">0.00128 USDC</div>'))
  assert.ok(html.includes('per request (1.25 USDC/MTok × up to 1024 tokens)'))
  assert.ok(html.includes(`vend pay -X POST -H &#39;content-type: application/json&#39; -d &#39;{&quot;model&quot;:&quot;qwen3:0.6b&quot;`))
  assert.ok(html.includes(`${base}/services/qwen/v1/chat/completions</code>`))
})

test('the discovery documents advertise exactly the amounts the gateway asks for', async () => {
  const wk = await (await fetch(`${base}/.well-known/x402`)).json() as { resources: { resource: string; method: string; accepts: unknown[] }[] }
  for (const r of wk.resources) {
    const res = await fetch(r.resource, { method: r.method, headers: { 'content-type': 'application/json' }, body: r.method === 'GET' ? null : '{}' })
    assert.equal(res.status, 402, r.resource)
    await res.arrayBuffer()
    assert.deepEqual(decodePaymentRequiredHeader(res.headers.get('payment-required')!).accepts, r.accepts, r.resource)
  }
})

test('API clients (no text/html) still get JSON from the gateway; storefront pages are served through it', async () => {
  const res = await fetch(`${base}/services/weather`)
  assert.equal(res.status, 402)
  assert.match(res.headers.get('content-type') ?? '', /application\/json/)
  await res.arrayBuffer()
  const home = await fetch(`${base}/`)
  assert.equal(home.status, 200)
  assert.match(await home.text(), /weather/)
})

test('renderPaymentPage is pure: same input, same page', () => {
  const { routes } = reconcileFixtures([WEATHER])
  const resolved = routes[0]!.resolved
  const info = {
    paymentRequired: { x402Version: 2, resource: { url: 'https://x.example/services/weather' }, accepts: [{ scheme: 'exact', network: 'eip155:84532' as const, amount: '1', asset: resolved.asset.address, payTo: PAY_TO, maxTimeoutSeconds: 300, extra: {} }] },
    offerKey: 'default/weather', resolved, url: 'https://x.example/services/weather',
  }
  assert.equal(renderPaymentPage(info), renderPaymentPage(info))
})
