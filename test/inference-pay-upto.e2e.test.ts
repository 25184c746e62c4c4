/**
 * `vend pay`'s buyer (payRequest) against metered inference, end to end: the real gateway and payment gate, the
 * local facilitator on a throwaway dev chain (Permit2 and the x402 upto proxy), the tiny model as a remote upstream
 * (URL ending in /v1: the prompt is estimated from above, so the usage costs less than the maximum even when the
 * model writes max_tokens). A payer with ETH approves Permit2 itself and pays `upto` (charged for the usage); a payer
 * without ETH cannot approve, so it pays the `exact` fallback, the advertised maximum. Amounts are checked on chain.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import { erc20Abi, parseEther, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { ensureTinyModel } from './helpers/tinyModel.ts'
import { chainClients } from '../src/devchain/contracts.ts'
import { PERMIT2_ADDRESS } from '../src/devchain/permit2.ts'
import { routeEntry } from '../src/gateway/testKit.ts'
import { startEmbeddedModel, type EmbeddedModel } from '../src/inference/embeddedRuntime.ts'
import { meteredCost } from '../src/inference/metering.ts'
import { toAtomic } from '../src/offer/price.ts'
import { payRequest, type PayReceipt, type PayResult } from '../src/payments/buyer.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { startPaidStack, until, type PaidStack } from '../src/payments/testStack.ts'

const MODEL = 'tiny'
const PER_MTOK = '2.5'
const price = { unit: 'perMTok' as const, decimal: PER_MTOK, atomic: toAtomic(PER_MTOK, 6) }

let chain: TestChain
let rt: EmbeddedModel
let stack: PaidStack

before(async () => {
  chain = await startTestChain()
  rt = await startEmbeddedModel({ file: await ensureTinyModel(), modelName: MODEL, threads: 1 })
  stack = await startPaidStack({ chain, offers: [] })
  stack.gateway.gw.setRoutes([routeEntry({
    name: 'llm',
    spec: {
      type: 'inference', model: { name: MODEL, maxTokens: 200 }, upstream: { url: `${rt.url}/v1`, timeoutSeconds: 60 },
      payment: {
        network: 'local', payTo: chain.payTo.address, price: { perMTok: PER_MTOK },
        asset: { address: chain.usdc.address, decimals: 6, eip712Name: chain.usdc.name, eip712Version: chain.usdc.version },
      },
      registration: { enabled: false },
    },
  })])
})
after(async () => {
  await stack?.stop()
  await rt?.close()
  await chain?.stop()
})

/** A fresh payer with 1 USDC and, when asked, 1 ETH for gas; Permit2 not approved. */
async function payer(eth: boolean): Promise<{ key: Hex; address: Hex }> {
  const key = generatePrivateKey()
  const address = privateKeyToAccount(key).address
  await chain.mint(address, 1_000_000n)
  if (eth) await chain.rpc('anvil_setBalance', [address, `0x${parseEther('1').toString(16)}`])
  return { key, address }
}

const permit2Allowance = (owner: Hex) => chainClients(chain.rpcUrl, chain.chainId).pub.readContract({
  address: chain.usdc.address, abi: erc20Abi, functionName: 'allowance', args: [owner, PERMIT2_ADDRESS],
})

async function chat(key: Hex) {
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'tell me about the water' }], max_tokens: 20, temperature: 0 })
  const url = `${stack.gateway.url}/services/llm/v1/chat/completions`
  const challenge = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
  await challenge.arrayBuffer()
  const accepts = decodePaymentRequiredHeader(challenge.headers.get('payment-required')!).accepts
  assert.deepEqual(accepts.map((a) => a.scheme), ['upto', 'exact'])
  const n = (await stack.rows()).length
  const result = await payRequest({
    url, method: 'POST', body, headers: { 'content-type': 'application/json' },
    account: privateKeyToAccount(key), maxAmount: '1', rpcUrl: chain.rpcUrl,
  })
  const row = await until(async () => {
    const r = (await stack.rows())[n]
    return r && r.status !== 'verified' && r.status !== 'settling' ? r : undefined
  })
  const usage = (JSON.parse(result.body) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage
  return { result, row, advertised: BigInt(accepts[0]!.amount), usage }
}

/** The answer was served and its receipt names the ledger row's settlement transaction, paid with `scheme`. */
function settledReceipt(result: PayResult, row: { txHash?: string | undefined }, scheme: string): PayReceipt {
  assert.equal(result.status, 200)
  const rc = result.receipt!
  assert.equal(rc.success, true)
  assert.equal(rc.scheme, scheme)
  assert.equal(rc.transaction, row.txHash)
  return rc
}

test('a payer with ETH approves Permit2 and pays upto: charged the usage, as the receipt says, below the maximum', async () => {
  const p = await payer(true)
  assert.equal(await permit2Allowance(p.address), 0n)
  const before = await chain.balanceOf(p.address)
  const { result, row, advertised, usage } = await chat(p.key)
  const paid = before - await chain.balanceOf(p.address)
  const rc = settledReceipt(result, row, 'upto')
  assert.equal(BigInt(rc.amount), paid, 'the receipt amount is what left the payer on chain')
  assert.equal(paid, meteredCost(price, { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens }))
  assert.equal(BigInt(rc.maxAmount), advertised)
  assert.ok(paid < advertised, `paid ${paid}, maximum ${advertised}`)
  assert.ok(await permit2Allowance(p.address) > 0n, 'payRequest approved Permit2')
})

test('a payer without ETH cannot approve Permit2: it pays the exact fallback, the advertised maximum', async () => {
  const p = await payer(false)
  const before = await chain.balanceOf(p.address)
  const { result, row, advertised } = await chat(p.key)
  const paid = before - await chain.balanceOf(p.address)
  const rc = settledReceipt(result, row, 'exact')
  assert.equal(paid, advertised)
  assert.deepEqual([BigInt(rc.amount), BigInt(rc.maxAmount)], [advertised, advertised])
  assert.equal(await permit2Allowance(p.address), 0n)
})
