/**
 * The local facilitator's own upto (Permit2) verify, against the official SDK's verify on the same payloads, on
 * a real dev chain (Permit2 and the upto proxy at their canonical addresses): it accepts what the SDK accepts and
 * refuses, with the SDK's reason, everything the SDK refuses.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { x402Client } from '@x402/core/client'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { toClientEvmSigner } from '@x402/evm'
import { UptoEvmScheme } from '@x402/evm/upto/client'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { chainClients } from '../../devchain/contracts.ts'
import { approvePermit2 } from '../../devchain/permit2.ts'
import { startTestChain, type TestChain } from '../testChain.ts'
import { createLocalFacilitator, type LocalFacilitator } from './local.ts'

let chain: TestChain
let fac: LocalFacilitator

before(async () => {
  chain = await startTestChain({ buyerFunds: 1_000_000n })
  await approvePermit2(chainClients(chain.rpcUrl, chain.chainId).wallet(chain.buyer.privateKey), chain.usdc.address)
  fac = createLocalFacilitator({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: chain.settler.privateKey, receiptPollMs: 20 })
})
after(async () => {
  await fac?.close()
  await chain?.stop()
})

const requirements = (amount: bigint, facilitatorAddress = fac.settlerAddress): PaymentRequirements => ({
  scheme: 'upto', network: chain.caip2 as `${string}:${string}`, asset: chain.usdc.address, amount: amount.toString(), payTo: chain.payTo.address,
  maxTimeoutSeconds: 300, extra: { name: chain.usdc.name, version: chain.usdc.version, assetTransferMethod: 'permit2', facilitatorAddress },
})

async function sign(req: PaymentRequirements, key: Hex = chain.buyer.privateKey): Promise<PaymentPayload> {
  const client = new x402Client().register('eip155:*', new UptoEvmScheme(toClientEvmSigner(privateKeyToAccount(key), chainClients(chain.rpcUrl, chain.chainId).pub)))
    .setSpendControls(false)
  return client.createPaymentPayload({ x402Version: 2, resource: { url: 'http://localhost/x', description: '', mimeType: '' }, accepts: [req] })
}

/** A copy of the payload with its Permit2 authorisation changed. */
function tampered(p: PaymentPayload, change: (a: Record<string, any>) => void): PaymentPayload {
  const copy = structuredClone(p)
  change((copy.payload as { permit2Authorization: Record<string, unknown> }).permit2Authorization)
  return copy
}

test('upto: a good authorisation is valid; every tampered one is refused with a reason', async () => {
  const req = requirements(50_000n)
  const good = await sign(req)
  const tooMuch = requirements((await chain.balanceOf(chain.buyer.address)) + 1n)
  assert.deepEqual(await fac.verify(good, req), { isValid: true, payer: chain.buyer.address })

  const cases: [string, PaymentPayload, PaymentRequirements][] = [
    ['amount raised after signing', tampered(good, (a) => { a.permitted.amount = '60000' }), requirements(60_000n)],
    ['recipient changed', tampered(good, (a) => { a.witness.to = chain.other.address }), req],
    ['another facilitator in the witness', await sign(requirements(50_000n, chain.other.address)), req],
    ['signed by someone else', { ...good, payload: { ...good.payload, signature: (await sign(req, chain.other.privateKey)).payload.signature } }, req],
    ['requirements for another amount', good, requirements(40_000n)],
    ['more than the payer holds', await sign(tooMuch), tooMuch],
    ['expired', tampered(good, (a) => { a.deadline = '1' }), req],
  ]
  for (const [name, payload, r] of cases) {
    const v = await fac.verify(payload, r)
    assert.equal(v.isValid, false, name)
    assert.ok(v.invalidReason, `${name}: a reason`)
  }
})
