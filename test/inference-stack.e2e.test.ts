/**
 * Inference offers are ordinary offers of the daemon: `vend sell inference` (an embedded GGUF and an upstream
 * server) on a `vend stack up --dev` stack, paid with `upto` by the openai SDK; after `stack down` / `stack up`
 * both serve again (no inference-specific startup code: the offer files are the state).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { toClientEvmSigner } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { UptoEvmScheme } from '@x402/evm/upto/client'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import OpenAI from 'openai'
import { privateKeyToAccount } from 'viem/accounts'
import { chainClients } from '../src/devchain/contracts.ts'
import { readDevChain, usdcBalance, type DevChainInfo } from '../src/devchain/devChain.ts'
import { approvePermit2 } from '../src/devchain/permit2.ts'
import { startEmbeddedModel, type EmbeddedModel } from '../src/inference/embeddedRuntime.ts'
import { meteredCost } from '../src/inference/metering.ts'
import { toAtomic } from '../src/offer/price.ts'
import { createSqliteLedger } from '../src/payments/ledger/sqliteLedger.ts'
import { openDatabaseReadOnly } from '../src/state/db.ts'
import { homePaths } from '../src/state/home.ts'
import { ensureTinyModel } from './helpers/tinyModel.ts'
import { eventually, freePort, stopDaemon, tempHome, vend, type VendResult } from './helpers/vend.ts'

const PAY_TO = '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc'
const price = { unit: 'perMTok' as const, decimal: '2.5', atomic: toAtomic('2.5', 6) }

let home: { home: string; cleanup: () => void }
let url: string
let listen: string
let chain: DevChainInfo
let upstream: EmbeddedModel
let model: string

function ok(r: VendResult, what: string): VendResult {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}): ${r.stderr}`)
  return r
}

function buyer(offer: string): OpenAI {
  const signer = toClientEvmSigner(privateKeyToAccount(chain.buyer.privateKey as `0x${string}`), chainClients(chain.rpcUrl, chain.chainId).pub)
  const client = new x402Client().register('eip155:*', new UptoEvmScheme(signer)).register('eip155:*', new ExactEvmScheme(signer))
    .setSpendControls({ allowedAssets: [{ network: chain.caip2, asset: chain.usdc.address }] })
  return new OpenAI({ baseURL: `${url}/services/${offer}/v1`, apiKey: 'unused', maxRetries: 0, fetch: wrapFetchWithPayment(fetch, client) })
}

/** Served and priced: an unpaid chat request gets its 402 (503 while the model loads or the upstream is probed). */
const served = (offer: string) => eventually(`${offer} served`, async () => {
  const res = await fetch(`${url}/services/${offer}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }] }) })
  await res.arrayBuffer()
  return res.status === 402 ? true : undefined
}, 60_000)

/** One paid chat on `offer`: the seller's balance moves by exactly the usage the buyer saw x price. */
async function paidChat(offer: string): Promise<void> {
  const before = await usdcBalance(chain, PAY_TO)
  const r = await buyer(offer).chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: `hello ${offer}` }], max_tokens: 16, temperature: 0 })
  const charged = meteredCost(price, { promptTokens: r.usage!.prompt_tokens, completionTokens: r.usage!.completion_tokens })
  assert.equal(await usdcBalance(chain, PAY_TO) - before, charged)
  const db = openDatabaseReadOnly(homePaths(home.home).db)!
  try {
    const row = (await createSqliteLedger(db).list({ offer: `default/${offer}` })).at(-1)!
    assert.equal((JSON.parse(row.requirements) as { scheme: string }).scheme, 'upto')
    assert.deepEqual([row.status, row.chargedAmount, row.promptTokens, row.completionTokens], ['settled', charged, r.usage!.prompt_tokens, r.usage!.completion_tokens])
  } finally { db.close() }
}

before(async () => {
  home = tempHome('vend-inference-')
  model = await ensureTinyModel()
  upstream = await startEmbeddedModel({ file: model, modelName: 'tiny', threads: 1 })
  listen = `127.0.0.1:${await freePort()}`
  url = `http://${listen}`
  ok(await vend(home.home, ['stack', 'up', '--dev', '--listen', listen]), 'stack up --dev')
  chain = readDevChain(homePaths(home.home))!
  await approvePermit2(chainClients(chain.rpcUrl, chain.chainId).wallet(chain.buyer.privateKey as `0x${string}`), chain.usdc.address)
})

after(async () => {
  if (home) await stopDaemon(home.home)
  await upstream?.close()
  home?.cleanup()
})

test('sell inference (embedded file and upstream), pay with upto, stack down/up: both serve again', async () => {
  const common = ['--per-mtok', '2.5', '--pay-to', PAY_TO, '--chain', 'local', '--no-register', '--max-tokens', '64']
  ok(await vend(home.home, ['sell', 'inference', 'emb', '--model', 'tiny', '--model-file', model, '--threads', '1', ...common]), 'sell inference emb')
  ok(await vend(home.home, ['sell', 'inference', 'up', '--model', 'tiny', '--upstream', upstream.url, ...common]), 'sell inference up')
  await served('emb')
  await served('up')
  await paidChat('emb')
  await paidChat('up')

  ok(await vend(home.home, ['stack', 'down', '--yes']), 'stack down')
  ok(await vend(home.home, ['stack', 'up', '--listen', listen]), 'stack up again')
  chain = readDevChain(homePaths(home.home))!
  await served('emb')
  await served('up')
  await paidChat('emb')
  await paidChat('up')
})

test('a model file that is missing: sell inference refuses it with a clear error', async () => {
  const r = await vend(home.home, ['sell', 'inference', 'gone', '--model', 'tiny', '--model-file', '/nonexistent/tiny.gguf', '--per-mtok', '2.5', '--pay-to', PAY_TO, '--chain', 'local', '--no-register'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /--model-file \/nonexistent\/tiny\.gguf does not exist/)
})
