/**
 * Settlements that arrive together go out in one Multicall3 transaction, and one authorisation that fails on chain
 * (here: the payer can afford only one of its two payments) fails alone without sinking the others.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { PaymentRequirements } from '@x402/core/types'
import { createLocalFacilitator, type LocalFacilitator } from '../src/payments/facilitators/local.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { signedPayload } from '../src/payments/testStack.ts'

let chain: TestChain
let fac: LocalFacilitator

before(async () => {
  chain = await startTestChain()
  fac = createLocalFacilitator({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: chain.settler.privateKey })
})

after(async () => {
  await fac?.close()
  await chain?.stop()
})

test('settlements submitted together share one transaction; a failing one fails alone with its reason', async () => {
  const req: PaymentRequirements = {
    scheme: 'exact', network: chain.caip2 as `${string}:${string}`, amount: '10000', asset: chain.usdc.address, payTo: chain.payTo.address,
    maxTimeoutSeconds: 300, extra: { name: chain.usdc.name, version: chain.usdc.version },
  }
  await chain.mint(chain.other.address, 10_000n)
  const good = await Promise.all(Array.from({ length: 5 }, () => signedPayload(chain, req)))
  const poor = await Promise.all([0, 1].map(() => signedPayload(chain, req, { key: chain.other.privateKey })))
  for (const p of [...good, ...poor]) assert.equal((await fac.verify(p, req)).isValid, true)
  const [buyer0, payTo0] = [await chain.balanceOf(chain.buyer.address), await chain.balanceOf(chain.payTo.address)]

  const results = await Promise.all([...good, ...poor].map((p) => fac.settle(p, req)))
  const ok = results.filter((r) => r.success)
  const failed = results.filter((r) => !r.success)
  assert.equal(ok.length, 6)
  assert.equal(failed.length, 1)
  assert.equal(failed[0]!.errorReason, 'invalid_exact_evm_insufficient_balance')
  assert.equal(new Set(results.map((r) => r.transaction)).size, 1, 'one transaction for all seven')
  assert.equal(buyer0 - await chain.balanceOf(chain.buyer.address), 50_000n)
  assert.equal(await chain.balanceOf(chain.other.address), 0n)
  assert.equal(await chain.balanceOf(chain.payTo.address) - payTo0, 60_000n)
})
