/**
 * Paid inference end to end: the real gateway and payment gate, the local facilitator on a throwaway dev chain
 * (Permit2 and the x402 upto proxy at their canonical addresses), the tiny model in node-llama-cpp as upstream,
 * and the official openai SDK paying through @x402/fetch (upto + exact clients). Amounts are checked against the
 * chain's balances, the ledger and the usage the buyer saw.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { toClientEvmSigner } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { UptoEvmScheme } from '@x402/evm/upto/client'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import OpenAI from 'openai'
import { privateKeyToAccount } from 'viem/accounts'
import { ensureTinyModel } from './helpers/tinyModel.ts'
import { chainClients } from '../src/devchain/contracts.ts'
import { approvePermit2 } from '../src/devchain/permit2.ts'
import { routeEntry } from '../src/gateway/testKit.ts'
import { startEmbeddedModel, type EmbeddedModel } from '../src/inference/embeddedRuntime.ts'
import { meteredCost } from '../src/inference/metering.ts'
import { toAtomic } from '../src/offer/price.ts'
import type { RouteEntry } from '../src/reconciler/types.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { startPaidStack, until, type PaidStack } from '../src/payments/testStack.ts'

const MODEL = 'tiny'
const PER_MTOK = '2.5' // 2.5 atomic units per token: rounding up is visible
const price = { unit: 'perMTok' as const, decimal: PER_MTOK, atomic: toAtomic(PER_MTOK, 6) }
const cost = (prompt: number, completion: number) => meteredCost(price, { promptTokens: prompt, completionTokens: completion })

let chain: TestChain
let rt: EmbeddedModel
let stack: PaidStack

function offer(name: string, upstream: string, payment: Record<string, unknown>, embedded: boolean): RouteEntry {
  const e = routeEntry({
    name,
    spec: {
      type: 'inference', model: { name: MODEL, maxTokens: 200 }, upstream: { url: upstream, timeoutSeconds: 60 },
      payment: {
        network: 'local', payTo: chain.payTo.address,
        asset: { address: chain.usdc.address, decimals: 6, eip712Name: chain.usdc.name, eip712Version: chain.usdc.version }, ...payment,
      },
      registration: { enabled: false },
    },
  })
  return embedded ? { ...e, inference: { countPromptTokens: (r) => rt.countPromptTokens(r), continuousUsage: true } } : e
}

before(async () => {
  chain = await startTestChain({ buyerFunds: 10_000_000n })
  await approvePermit2(chainClients(chain.rpcUrl, chain.chainId).wallet(chain.buyer.privateKey), chain.usdc.address)
  rt = await startEmbeddedModel({ file: await ensureTinyModel(), modelName: MODEL, threads: 1 })
  stack = await startPaidStack({ chain, offers: [] })
  stack.gateway.gw.setRoutes([
    offer('llm', rt.url, { price: { perMTok: PER_MTOK } }, true),
    offer('remote', `${rt.url}/v1`, { price: { perMTok: PER_MTOK } }, false),
    offer('flat', rt.url, { price: { perRequest: '0.001' } }, true),
    offer('down', 'http://127.0.0.1:9', { price: { perMTok: PER_MTOK } }, false),
  ])
})
after(async () => {
  await stack?.stop()
  await rt?.close()
  await chain?.stop()
})

function buyer(offerName: string, schemes: 'both' | 'exact' = 'both'): OpenAI {
  const signer = toClientEvmSigner(privateKeyToAccount(chain.buyer.privateKey), chainClients(chain.rpcUrl, chain.chainId).pub)
  const client = new x402Client()
  if (schemes === 'both') client.register('eip155:*', new UptoEvmScheme(signer))
  client.register('eip155:*', new ExactEvmScheme(signer))
    .setSpendControls({ allowedAssets: [{ network: chain.caip2 as `${string}:${string}`, asset: chain.usdc.address }] })
  return new OpenAI({ baseURL: `${stack.gateway.url}/services/${offerName}/v1`, apiKey: 'unused', maxRetries: 0, fetch: wrapFetchWithPayment(fetch, client) })
}

const balances = async () => ({ buyer: await chain.balanceOf(chain.buyer.address), seller: await chain.balanceOf(chain.payTo.address) })
const lastRow = async (count: number) => until(async () => {
  const rows = await stack.rows()
  const r = rows[count - 1]
  return r && r.status !== 'verified' && r.status !== 'settling' ? r : undefined
})

async function challengeFor(offerName: string, body: unknown): Promise<PaymentRequirements[]> {
  const res = await fetch(`${stack.gateway.url}/services/${offerName}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  assert.equal(res.status, 402)
  await res.arrayBuffer()
  return decodePaymentRequiredHeader(res.headers.get('payment-required')!).accepts
}

test('non-streaming chat paid with upto: charged == (prompt + completion tokens) x price, on chain and in the ledger', async () => {
  const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'tell me about the water' }], max_tokens: 40, temperature: 0 }
  const accepts = await challengeFor('llm', body)
  assert.deepEqual(accepts.map((a) => a.scheme), ['upto', 'exact'])
  assert.equal(accepts[0]!.amount, accepts[1]!.amount)
  assert.equal(accepts[0]!.extra['assetTransferMethod'], 'permit2')
  assert.equal(accepts[0]!.extra['facilitatorAddress'], chain.settler.address)

  const n = (await stack.rows()).length
  const before = await balances()
  const { data: r, response } = await buyer('llm').chat.completions.create(body).withResponse()
  const row = await lastRow(n + 1)
  const after = await balances()
  const charged = cost(r.usage!.prompt_tokens, r.usage!.completion_tokens)
  const receipt = decodePaymentResponseHeader(response.headers.get('payment-response')!)
  assert.deepEqual([receipt.success, receipt.amount, receipt.transaction], [true, String(charged), row.txHash])
  assert.equal(BigInt(accepts[0]!.amount), cost(r.usage!.prompt_tokens, 40), 'the maximum is the exact prompt + max_tokens')
  assert.equal(after.seller - before.seller, charged)
  assert.equal(before.buyer - after.buyer, charged)
  assert.equal(row.status, 'settled')
  assert.equal(row.amount, BigInt(accepts[0]!.amount))
  assert.equal(row.chargedAmount, charged)
  assert.deepEqual([row.promptTokens, row.completionTokens], [r.usage!.prompt_tokens, r.usage!.completion_tokens])
  assert.ok(charged <= row.amount)
})

test('streaming chat paid with upto: tokens stream, the settlement matches the usage the buyer saw', async () => {
  const n = (await stack.rows()).length
  const before = await balances()
  const stream = await buyer('llm').chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'and the day?' }], max_tokens: 60, temperature: 0, stream: true, stream_options: { include_usage: true },
  })
  let chunks = 0
  let usage: OpenAI.CompletionUsage | undefined
  for await (const c of stream) { chunks++; if (c.usage) usage = c.usage }
  const row = await lastRow(n + 1)
  const after = await balances()
  assert.ok(usage && chunks > 2)
  const charged = cost(usage.prompt_tokens, usage.completion_tokens)
  assert.equal(row.status, 'settled')
  assert.equal(row.chargedAmount, charged)
  assert.equal(after.seller - before.seller, charged)
  assert.equal(before.buyer - after.buyer, charged)
})

test('a remote upstream (URL ending in /v1, no exact counter): upto charges the reported usage, below the estimated maximum', async () => {
  const n = (await stack.rows()).length
  const before = await balances()
  const r = await buyer('remote').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 20, temperature: 0 })
  const row = await lastRow(n + 1)
  const after = await balances()
  const charged = cost(r.usage!.prompt_tokens, r.usage!.completion_tokens)
  assert.equal(after.seller - before.seller, charged)
  assert.equal(row.chargedAmount, charged)
  assert.ok(row.amount > cost(r.usage!.prompt_tokens, 20), 'the estimate bounds the prompt from above')
})

test('an abandoned upto stream is settled for the tokens delivered, not the maximum', async () => {
  const n = (await stack.rows()).length
  const before = await balances()
  const stream = await buyer('llm').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'go on and on' }], max_tokens: 200, temperature: 0, stream: true })
  let content = 0
  for await (const c of stream) if (c.choices[0]?.delta.content && ++content === 3) break
  const row = await lastRow(n + 1)
  const after = await balances()
  assert.equal(row.status, 'settled')
  assert.ok(row.completionTokens! >= 3 && row.completionTokens! < 200, `completion tokens ${row.completionTokens}`)
  assert.equal(row.chargedAmount, cost(row.promptTokens!, row.completionTokens!))
  assert.ok(row.chargedAmount! < row.amount)
  assert.equal(after.seller - before.seller, row.chargedAmount)
})

test('exact fallback: a buyer without upto pays the advertised per-request maximum and nothing else', async () => {
  const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 10, temperature: 0 }
  const advertised = BigInt((await challengeFor('llm', body)).find((a) => a.scheme === 'exact')!.amount)
  const n = (await stack.rows()).length
  const before = await balances()
  const r = await buyer('llm', 'exact').chat.completions.create(body)
  const row = await lastRow(n + 1)
  const after = await balances()
  assert.equal(advertised, cost(r.usage!.prompt_tokens, 10))
  assert.equal(after.seller - before.seller, advertised)
  assert.equal(before.buyer - after.buyer, advertised)
  assert.equal(row.chargedAmount, advertised)
})

test('exact fallback: a stream the buyer abandons is not charged', async () => {
  const n = (await stack.rows()).length
  const before = await balances()
  const stream = await buyer('llm', 'exact').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'go on' }], max_tokens: 200, temperature: 0, stream: true })
  for await (const c of stream) if (c.choices[0]?.delta.content) break
  const row = await lastRow(n + 1)
  assert.equal(row.status, 'not_charged')
  assert.deepEqual(await balances(), before)
})

test('perRequest inference offers: only exact, the fixed price', async () => {
  const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 10, temperature: 0 }
  const accepts = await challengeFor('flat', body)
  assert.deepEqual(accepts.map((a) => [a.scheme, a.amount]), [['exact', '1000']])
  const before = await balances()
  await buyer('flat').chat.completions.create(body)
  await lastRow((await stack.rows()).length)
  assert.equal((await balances()).seller - before.seller, 1000n)
})

test('wrong model, oversized max_tokens, malformed JSON, upstream down: clear errors, nothing charged', async () => {
  const n = (await stack.rows()).length
  const before = await balances()
  await assert.rejects(buyer('llm').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /this offer serves "tiny"/.test(e.message))
  await assert.rejects(buyer('llm').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 201 }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /at most 200 tokens/.test(e.message))
  const res = await fetch(`${stack.gateway.url}/services/llm/v1/chat/completions`, { method: 'POST', body: '{"model": "tiny", ' })
  assert.equal(res.status, 400)
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_json')
  assert.equal((await stack.rows()).length, n, 'no payment was asked for')
  await assert.rejects(buyer('down').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
    (e: unknown) => e instanceof OpenAI.APIError && e.status === 502)
  const row = await lastRow(n + 1)
  assert.equal(row.status, 'not_charged')
  assert.deepEqual(await balances(), before)
})
