/**
 * One route, two client generations: x402-fetch 1.x (X-PAYMENT, v1 body) and @x402/fetch 2.x (PAYMENT-SIGNATURE)
 * both pay the same route on a Base Sepolia-shaped chain (84532), each getting its own receipt header.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { decodePaymentResponseHeader } from '@x402/core/http'
import { createSigner, decodeXPaymentResponse, wrapFetchWithPayment as wrapFetchV1 } from 'x402-fetch'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { paidOffer, payingFetch, startPaidStack, startUpstream, type PaidStack, type Upstream } from '../src/payments/testStack.ts'

let chain: TestChain
let upstream: Upstream
let stack: PaidStack

before(async () => {
  chain = await startTestChain({ chainId: 84532 })
  upstream = await startUpstream({})
  stack = await startPaidStack({ chain, offers: [paidOffer(chain, { name: 'weather', upstreamUrl: upstream.url, network: 'base-sepolia' })] })
})

after(async () => {
  await stack?.stop()
  await upstream?.close()
  await chain?.stop()
})

test('x402-fetch 1.x and @x402/fetch 2.x both pay the same route', async () => {
  const url = `${stack.gateway.url}/services/weather/today`
  const payTo0 = await chain.balanceOf(chain.payTo.address)

  const v1Fetch = wrapFetchV1(fetch, await createSigner('base-sepolia', chain.buyer.privateKey))
  const r1 = await v1Fetch(url)
  assert.equal(r1.status, 200)
  assert.deepEqual(await r1.json(), { ok: true, path: '/today' })
  const receipt1 = decodeXPaymentResponse(r1.headers.get('x-payment-response')!)
  assert.equal(receipt1.success, true)
  assert.equal(receipt1.network, 'base-sepolia')

  const r2 = await payingFetch(chain)(url)
  assert.equal(r2.status, 200)
  const receipt2 = decodePaymentResponseHeader(r2.headers.get('payment-response')!)
  assert.equal(receipt2.success, true)
  assert.equal(receipt2.network, 'eip155:84532')

  assert.equal(await chain.balanceOf(chain.payTo.address) - payTo0, 20_000n)
  const rows = await stack.rows()
  assert.deepEqual(rows.map((r) => [r.x402Version, r.status, r.txHash]), [[1, 'settled', receipt1.transaction], [2, 'settled', receipt2.transaction]])
})
