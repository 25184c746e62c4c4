/**
 * Optimistic settlement: the buyer is served before the payment settles, up to a cap on what one payer may owe;
 * past the cap the payment is settled before the response, like onSuccess. The chain is held (automine off) so
 * the first payment deterministically stays unsettled while the second arrives.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { decodePaymentResponseHeader } from '@x402/core/http'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { paidOffer, payingFetch, startPaidStack, startUpstream, until, type PaidStack, type Upstream } from '../src/payments/testStack.ts'

let chain: TestChain
let upstream: Upstream
let stack: PaidStack

before(async () => {
  chain = await startTestChain()
  upstream = await startUpstream({})
  // the default cap is one whole token: one 0.6 payment may be owed, a second one may not
  stack = await startPaidStack({ chain, offers: [paidOffer(chain, { name: 'eager', upstreamUrl: upstream.url, settlement: 'optimistic', price: '0.6' })] })
})

after(async () => {
  await chain?.rpc('evm_setAutomine', [true]).catch(() => {})
  await stack?.stop()
  await upstream?.close()
  await chain?.stop()
})

test('served before settlement until the payer owes the cap; then settled first', async () => {
  const url = `${stack.gateway.url}/services/eager/now`
  const buyer0 = await chain.balanceOf(chain.buyer.address)
  await chain.rpc('evm_setAutomine', [false])

  const first = await payingFetch(chain)(url)
  assert.equal(first.status, 200, 'served while its settlement is still pending')
  assert.equal(first.headers.get('payment-response'), null)
  const owed = await until(async () => { const r = (await stack.rows())[0]; return r?.txHash ? r : undefined })
  assert.equal(owed.status, 'settling')
  assert.equal(await chain.balanceOf(chain.buyer.address), buyer0)

  const second = payingFetch(chain)(url)
  await until(async () => (await stack.rows())[1]?.txHash)
  assert.equal((await stack.rows())[1]!.settlement, 'onSuccess', 'over the cap: settled before serving')
  await chain.rpc('evm_setAutomine', [true])
  await chain.rpc('evm_mine')
  const res = await second
  assert.equal(res.status, 200)
  assert.equal(decodePaymentResponseHeader(res.headers.get('payment-response')!).success, true)
  await until(async () => (await stack.rows()).every((r) => r.status === 'settled'))
  assert.equal(buyer0 - await chain.balanceOf(chain.buyer.address), 1_200_000n)
})
