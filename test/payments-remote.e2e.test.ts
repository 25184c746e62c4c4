/**
 * A remote facilitator over HTTP (a separate server, configured in stack.yaml `facilitators` with an auth header
 * from the environment): while it is down,
 * paid routes answer 503 with Retry-After and the upstream is never called; once it is back, payments work again
 * without restarting anything.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { decodePaymentResponseHeader } from '@x402/core/http'
import { routeEntry } from '../src/gateway/testKit.ts'
import { createLocalFacilitator, type LocalFacilitator } from '../src/payments/facilitators/local.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { paidOffer, payingFetch, serveFacilitator, startPaidStack, startUpstream, type PaidStack, type Upstream } from '../src/payments/testStack.ts'

let chain: TestChain
let upstream: Upstream
let stack: PaidStack
let inner: LocalFacilitator
let server: Awaited<ReturnType<typeof serveFacilitator>>

before(async () => {
  chain = await startTestChain()
  upstream = await startUpstream({})
  inner = createLocalFacilitator({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: chain.settler.privateKey })
  server = await serveFacilitator(inner)
  stack = await startPaidStack({
    chain, localChain: false,
    config: { facilitators: [{ network: 'local', url: server.url, headers: { Authorization: { env: 'FACILITATOR_TOKEN', prefix: 'Bearer ' } } }] },
    env: { FACILITATOR_TOKEN: 'sekret-token' },
    offers: [paidOffer(chain, { name: 'weather', upstreamUrl: upstream.url })],
  })
})

after(async () => {
  await stack?.stop()
  await server?.close()
  await inner?.close()
  await upstream?.close()
  await chain?.stop()
})

test('facilitator down: 503 with Retry-After and no upstream call; back up: paid again without a restart', async () => {
  const url = `${stack.gateway.url}/services/weather/today`
  const ok = await payingFetch(chain)(url)
  assert.equal(ok.status, 200)
  assert.equal(decodePaymentResponseHeader(ok.headers.get('payment-response')!).success, true)
  assert.ok(server.calls.includes('/verify') && server.calls.includes('/settle'))
  assert.deepEqual([...new Set(server.authorizations)], ['Bearer sekret-token'], 'every call carries the auth header from the environment')
  const offer = routeEntry(paidOffer(chain, { name: 'weather', upstreamUrl: upstream.url })).resolved.offer
  assert.equal(stack.payments.facilitatorFor(chain.caip2, offer).reachable, true)

  const port = server.port
  await server.close()
  const hits = upstream.hits.get('/today')
  const buyer0 = await chain.balanceOf(chain.buyer.address)
  const down = await payingFetch(chain)(url)
  assert.equal(down.status, 503)
  assert.ok(Number(down.headers.get('retry-after')) > 0)
  assert.equal((await down.json() as { error: string }).error, 'facilitator_unavailable')
  assert.equal(upstream.hits.get('/today'), hits)
  assert.equal(await chain.balanceOf(chain.buyer.address), buyer0)
  assert.equal(stack.payments.facilitatorFor(chain.caip2, offer).reachable, false)

  server = await serveFacilitator(inner, port)
  const back = await payingFetch(chain)(url)
  assert.equal(back.status, 200)
  assert.equal(decodePaymentResponseHeader(back.headers.get('payment-response')!).success, true)
  assert.equal(buyer0 - await chain.balanceOf(chain.buyer.address), 10_000n)
})
