import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { Gateway } from '../gateway/createGateway.ts'
import { formatAtomic } from '../offer/price.ts'
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
  // inference: the price depends on the request body (prompt + max_tokens), so the browser POSTs a chat body
  const llm = await fetch(`${base}/services/qwen/v1/chat/completions`, {
    method: 'POST', headers: { ...browser, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'qwen3:0.6b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1024 }),
  })
  assert.equal(llm.status, 402)
  const html = await llm.text()
  const accepts = decodePaymentRequiredHeader(llm.headers.get('payment-required')!).accepts
  const amount = BigInt(accepts[0]!.amount)
  assert.ok(amount > 1280n, `covers the prompt on top of 1024 tokens at 1.25 USDC/MTok: ${amount}`)
  assert.ok(html.includes(`<div class="amount">${formatAtomic(amount, 6)} USDC</div>`))
  assert.ok(html.includes(`${base}/services/qwen/v1/chat/completions</code>`))
})

test('the discovery documents advertise exactly the amounts the gateway asks for', async () => {
  const wk = await (await fetch(`${base}/.well-known/x402`)).json() as { resources: { resource: string; method: string; accepts: unknown[] }[] }
  for (const r of wk.resources) {
    const kind = /\/v1\/(chat\/completions|completions|embeddings)$/.exec(r.resource)?.[1]
    const inference = kind !== undefined
    // an inference price depends on the body; discovery shows the amount for max_tokens with an empty prompt
    const model = 'qwen3:0.6b'
    const inferenceBody = kind === 'chat/completions' ? { model, messages: [{ role: 'user', content: '' }] } : kind === 'completions' ? { model, prompt: '' } : { model, input: '' }
    const body = r.method === 'GET' ? null : inference ? JSON.stringify(inferenceBody) : '{}'
    const res = await fetch(r.resource, { method: r.method, headers: { 'content-type': 'application/json' }, body })
    assert.equal(res.status, 402, r.resource)
    await res.arrayBuffer()
    const asked = decodePaymentRequiredHeader(res.headers.get('payment-required')!).accepts
    if (!inference) { assert.deepEqual(asked, r.accepts, r.resource); continue }
    const advertised = r.accepts as typeof asked
    const exactAsked = asked.find((a) => a.scheme === 'exact')!
    const exactAdvertised = advertised.find((a) => a.scheme === 'exact')!
    assert.deepEqual({ ...exactAsked, amount: '' }, { ...exactAdvertised, amount: '' }, r.resource)
    // generation is priced for prompt + max_tokens, so it asks at least the advertised max_tokens amount;
    // embeddings are priced for their input only
    if (kind !== 'embeddings') assert.ok(BigInt(exactAsked.amount) >= BigInt(exactAdvertised.amount), `${exactAsked.amount} covers the advertised ${exactAdvertised.amount} plus the prompt`)
    else assert.ok(BigInt(exactAsked.amount) > 0n)
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
