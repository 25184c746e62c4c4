/**
 * The local facilitator's own upto (Permit2) verify and settlement on a real dev chain (Permit2 and the upto proxy
 * at their canonical addresses): valid authorisations pass, tampered ones are refused with a reason; a settlement
 * interrupted by a crash is completed from the chain.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { x402Client } from '@x402/core/client'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { toClientEvmSigner } from '@x402/evm'
import { UptoEvmScheme } from '@x402/evm/upto/client'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { chainClients } from '../../devchain/contracts.ts'
import { approvePermit2 } from '../../devchain/permit2.ts'
import { openDatabase } from '../../state/db.ts'
import { createSqliteLedger } from '../ledger/sqliteLedger.ts'
import { recoverRow } from '../settlement.ts'
import { startTestChain, type TestChain } from '../testChain.ts'
import { quietLog, serveFacilitator } from '../testStack.ts'
import { createLocalFacilitator, type LocalFacilitator } from './local.ts'
import { createRemoteFacilitator } from './remote.ts'

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

test('upto: a settlement sent before a crash is completed from the chain by recovery, for the amount used, never sent twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-upto-recovery-'))
  const db = openDatabase(join(dir, 'vend.db'))
  try {
    const ledger = createSqliteLedger(db)
    const max = requirements(50_000n)
    const payload = await sign(max)
    const used = { ...max, amount: '12345' }
    const a = (payload.payload as { permit2Authorization: { nonce: string; deadline: string } }).permit2Authorization
    const rec = await ledger.recordVerified({
      offer: 'default/llm', network: chain.caip2, asset: chain.usdc.address, payer: chain.buyer.address, payTo: chain.payTo.address,
      nonce: a.nonce, amount: 50_000n, validBefore: Number(a.deadline), x402Version: 2, payload: JSON.stringify(payload),
      requirements: JSON.stringify(used), facilitator: 'local', settlement: 'onSuccess',
    })
    assert.ok(rec.ok)
    await ledger.markSettling(rec.id, Date.now())
    const payTo0 = await chain.balanceOf(chain.payTo.address)
    // the earlier attempt: its hash is persisted before the broadcast, then the process "dies" before the result
    const first = await fac.settle(payload, used, { onTxHash: (h) => ledger.setTxHash(rec.id, h) })
    assert.equal(first.success, true)
    const row = (await ledger.get(rec.id))!
    assert.equal(row.status, 'settling')
    assert.equal(row.txHash, first.transaction)

    const out = await recoverRow(ledger, fac, row, quietLog)
    assert.equal(out.kind, 'settled')
    const after = (await ledger.get(rec.id))!
    assert.equal(after.status, 'settled')
    assert.equal(after.chargedAmount, 12_345n, 'the amount used, not the maximum')
    assert.equal(after.txHash, first.transaction)
    assert.equal(await chain.balanceOf(chain.payTo.address) - payTo0, 12_345n, 'paid once')
    assert.equal(await fac.chain!.authorizationUsed(chain.usdc.address, chain.buyer.address, a.nonce, 'upto'), true)
    assert.equal(await fac.chain!.authorizationUsed(chain.usdc.address, chain.buyer.address, (BigInt(a.nonce) ^ 1n).toString(), 'upto'), false)
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('served over HTTP as a remote facilitator: upto is offered with the settler it lists in /supported, and settles', async () => {
  const server = await serveFacilitator(fac)
  const remote = createRemoteFacilitator({ url: server.url })
  try {
    await remote.refresh()
    assert.equal(remote.uptoSettler(chain.caip2)?.toLowerCase(), fac.settlerAddress.toLowerCase())
    assert.equal(remote.uptoSettler('eip155:1'), undefined, 'no upto where the facilitator lists none')
    const req = requirements(40_000n)
    const payload = await sign(req)
    assert.deepEqual(await remote.verify(payload, req), { isValid: true, payer: chain.buyer.address })
    const payTo0 = await chain.balanceOf(chain.payTo.address)
    const res = await remote.settle(payload, { ...req, amount: '777' })
    assert.equal(res.success, true)
    assert.equal(res.amount, '777')
    assert.equal(await chain.balanceOf(chain.payTo.address) - payTo0, 777n)
  } finally {
    await remote.close()
    await server.close()
  }
})
