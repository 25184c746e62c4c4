import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import { DEV_USDC_ADDRESS } from '../offer/networks.ts'
import { rawRequest, routeEntry, startGateway } from './testKit.ts'

test('402 carries an x402 v2 PAYMENT-REQUIRED header with exact atomic amounts and an absolute resource URL', async () => {
  const cheap = routeEntry({ name: 'cheap', price: '0.000001' })
  const dear = routeEntry({ name: 'dear', price: '12.5' })
  const g = await startGateway({}, [cheap, dear])
  try {
    for (const [name, amount] of [['cheap', '1'], ['dear', '12500000']] as const) {
      const res = await rawRequest(`${g.url}/services/${name}/today?city=Paris&x=1`)
      assert.equal(res.status, 402)
      assert.equal(res.headers['cache-control'], 'no-store')
      const pr = decodePaymentRequiredHeader(res.headers['payment-required'] as string)
      assert.equal(pr.x402Version, 2)
      assert.equal(pr.resource.url, `${g.url}/services/${name}/today?city=Paris&x=1`)
      assert.equal(pr.resource.mimeType, 'application/json')
      assert.equal(typeof pr.resource.description, 'string')
      assert.deepEqual(pr.accepts, [{
        scheme: 'exact', network: 'eip155:84532', amount, asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
        payTo: '0x1111111111111111111111111111111111111111', maxTimeoutSeconds: 300, extra: { name: 'USDC', version: '2' },
      }])
    }
  } finally {
    await g.stop()
  }
})

test('402 JSON body is v1-shaped so x402 v1 clients can pay', async () => {
  const g = await startGateway({}, [routeEntry({ name: 'w', price: '0.25', spec: { description: 'Weather data' } })])
  try {
    const res = await rawRequest(`${g.url}/services/w?q=1`)
    assert.equal(res.status, 402)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    const body = JSON.parse(res.body)
    assert.equal(body.x402Version, 1)
    assert.equal(typeof body.error, 'string')
    assert.deepEqual(body.accepts, [{
      scheme: 'exact', network: 'base-sepolia', maxAmountRequired: '250000', resource: `${g.url}/services/w?q=1`,
      description: 'Weather data', mimeType: 'application/json', outputSchema: {},
      payTo: '0x1111111111111111111111111111111111111111', maxTimeoutSeconds: 300,
      asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', extra: { name: 'USDC', version: '2' },
    }])
  } finally {
    await g.stop()
  }
})

test('a chain without an x402 v1 name keeps its CAIP-2 id in the v1 body', async () => {
  const g = await startGateway({}, [routeEntry({ name: 'dev', network: 'local', price: '1' })])
  try {
    const res = await rawRequest(`${g.url}/services/dev`)
    const body = JSON.parse(res.body)
    assert.equal(body.accepts[0].network, 'eip155:31337')
    assert.equal(body.accepts[0].asset, DEV_USDC_ADDRESS)
    assert.equal(body.accepts[0].maxAmountRequired, '1000000')
    assert.equal(decodePaymentRequiredHeader(res.headers['payment-required'] as string).accepts[0]!.network, 'eip155:31337')
  } finally {
    await g.stop()
  }
})

test('browsers get the injected HTML payment page, with the same PAYMENT-REQUIRED header', async () => {
  const g = await startGateway({
    renderPaymentPage: (info) => `<html><body>Pay ${info.paymentRequired.accepts[0]!.amount} for ${info.offerKey}</body></html>`,
  }, [routeEntry({ name: 'w', price: '0.5' })])
  try {
    const html = await rawRequest(`${g.url}/services/w`, { headers: { accept: 'text/html,application/xhtml+xml' } })
    assert.equal(html.status, 402)
    assert.match(String(html.headers['content-type']), /^text\/html/)
    assert.equal(html.body, '<html><body>Pay 500000 for default/w</body></html>')
    assert.equal(decodePaymentRequiredHeader(html.headers['payment-required'] as string).accepts[0]!.amount, '500000')
    const json = await rawRequest(`${g.url}/services/w`, { headers: { accept: 'application/json' } })
    assert.equal(JSON.parse(json.body).x402Version, 1)
  } finally {
    await g.stop()
  }
})

test('without a page renderer browsers get the JSON 402', async () => {
  const g = await startGateway({}, [routeEntry({ name: 'w' })])
  try {
    const res = await rawRequest(`${g.url}/services/w`, { headers: { accept: 'text/html' } })
    assert.equal(res.status, 402)
    assert.equal(JSON.parse(res.body).x402Version, 1)
  } finally {
    await g.stop()
  }
})

const inference = (price: string) => routeEntry({
  name: 'llm', spec: { type: 'inference', model: { name: 'tiny', maxTokens: 1000 }, payment: { network: 'base-sepolia', payTo: '0x1111111111111111111111111111111111111111', price: { perMTok: price } } },
})

const chat = (content: string, maxTokens: number) => JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content }], max_tokens: maxTokens })

test('inference routes: the 402 asks for this body\'s maximum (prompt bound + max_tokens) x price; bad bodies get 400, never 402', async () => {
  const g = await startGateway({}, [inference('2.5')]) // 2.5 USDC per million tokens = 2.5 atomic per token
  try {
    const url = `${g.url}/services/llm/v1/chat/completions`
    const res = await rawRequest(url, { method: 'POST', body: chat('hi', 100) })
    assert.equal(res.status, 402)
    // prompt bound 32 + 8 per message + bytes of "user" and "hi" = 46; (46 + 100) x 2.5 = 365
    const accepts = decodePaymentRequiredHeader(res.headers['payment-required'] as string).accepts
    assert.deepEqual(accepts.map((a) => [a.scheme, a.amount]), [['exact', '365']])
    const bad = await rawRequest(url, { method: 'POST', body: '{}' })
    assert.equal(bad.status, 400)
    assert.equal(bad.headers['payment-required'], undefined)
    assert.equal(JSON.parse(bad.body).error.type, 'invalid_request_error')
    const wrong = await rawRequest(url, { method: 'POST', body: chat('hi', 1001) })
    assert.equal(wrong.status, 400)
    assert.match(JSON.parse(wrong.body).error.message, /at most 1000 tokens/)
    const huge = await rawRequest(url, { method: 'POST', body: chat('x'.repeat(1024 * 1024), 10) })
    assert.equal(huge.status, 413)
    assert.equal(huge.headers['payment-required'], undefined)
    const models = await rawRequest(`${g.url}/services/llm/v1/models`)
    assert.deepEqual(JSON.parse(models.body).data.map((m: { id: string }) => m.id), ['tiny'])
    assert.equal((await rawRequest(`${g.url}/services/llm/v1/nope`)).status, 404)
    assert.equal((await rawRequest(url)).status, 405)
  } finally {
    await g.stop()
  }
})

test('inference routes: a gate with handleUnpaid gets the prepared request and challenges with its own accepts', async () => {
  const g = await startGateway({
    paymentGate: {
      async handle(ctx) { ctx.sendJson(500, { error: 'not expected' }) },
      async handleUnpaid(ctx) {
        const max = ctx.inference!.maxAmount
        const accept = ctx.paymentRequired.accepts[0]!
        ctx.challenge('payment required for this prompt', { max: String(max) }, [{ ...accept, scheme: 'upto', amount: String(max) }, { ...accept, amount: String(max) }])
      },
    },
  }, [inference('3'), routeEntry({ name: 'flat', price: '0.5' })])
  try {
    const res = await rawRequest(`${g.url}/services/llm/v1/chat/completions`, { method: 'POST', body: chat('hi', 1000) })
    assert.equal(res.status, 402)
    const pr = decodePaymentRequiredHeader(res.headers['payment-required'] as string)
    assert.equal(pr.error, 'payment required for this prompt')
    assert.deepEqual(pr.accepts.map((a) => [a.scheme, a.amount]), [['upto', '3138'], ['exact', '3138']]) // (46 + 1000) x 3
    assert.equal(pr.resource.url, `${g.url}/services/llm/v1/chat/completions`)
    const body = JSON.parse(res.body)
    assert.equal(body.x402Version, 1)
    assert.equal(body.max, '3138')
    assert.equal(body.accepts[0].maxAmountRequired, '3138')
    assert.equal(body.accepts[0].network, 'base-sepolia')
    // per-request routes keep the precomputed challenge
    const flat = await rawRequest(`${g.url}/services/flat`)
    assert.equal(decodePaymentRequiredHeader(flat.headers['payment-required'] as string).accepts[0]!.amount, '500000')
  } finally {
    await g.stop()
  }
})

test('a failing page renderer answers 500 and the gateway keeps serving', async () => {
  const logged: string[] = []
  const g = await startGateway({ renderPaymentPage: () => { throw new Error('template broke') }, log: (e) => logged.push(e) }, [routeEntry({ name: 'w' })])
  try {
    assert.equal((await rawRequest(`${g.url}/services/w`, { headers: { accept: 'text/html' } })).status, 500)
    assert.equal((await rawRequest(`${g.url}/services/w`)).status, 402)
    assert.ok(logged.includes('Failed request'))
  } finally {
    await g.stop()
  }
})
