/**
 * [buyer] acceptance, end to end through the real bin/vend: two stacks on one machine (separate VEND_HOME and
 * ports) on one dev chain (the buyer joins with --dev-join). The buyer stack buys from the seller stack through
 * its loopback /buy/* endpoints, paid from its stack wallet under the purchase's budgets.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import OpenAI from 'openai'
import { privateKeyToAccount } from 'viem/accounts'
import { createPublicClient, http as rpc, parseEther } from 'viem'
import { fundEth, fundUsdc, readDevChain, usdcBalance, type DevChainInfo } from '../src/devchain/devChain.ts'
import { chainClients } from '../src/identity/chainClients.ts'
import { registerAgent } from '../src/identity/erc8004.ts'
import { resolveChain } from '../src/offer/networks.ts'
import { formatAtomic } from '../src/offer/price.ts'
import { readPayments } from '../src/payments/ledger/readLedger.ts'
import { homePaths } from '../src/state/home.ts'
import { eventually, freePort, serve, stopDaemon, tempHome, vend, type TestServer, type VendResult } from './helpers/vend.ts'

const SELLER_PAY_TO = '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc' // anvil #5 address, used only as a recipient
const AGENT_OWNER_KEY = '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba' // anvil #5, ETH-funded by anvil
const PASSWORD = 'buyer-e2e-passphrase'
const PER_MTOK = 100 // USDC per million tokens: 100 atomic units per token

function ok(r: VendResult, what: string): VendResult {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}): ${r.stderr}`)
  return r
}

type Ctx = {
  seller: { home: string; url: string; cleanup: () => void }
  buyer: { home: string; url: string; cleanup: () => void; address: `0x${string}` }
  chain: DevChainInfo
  upstream: TestServer & { chats: () => number }
}
let ctx: Ctx

/** An OpenAI-compatible upstream: /health, POST /v1/chat/completions (JSON or SSE). */
async function startOpenAiUpstream(): Promise<Ctx['upstream']> {
  const state = { chats: 0 }
  const srv = await serve((req, res) => {
    if (req.url === '/health') { res.writeHead(200).end('ok'); return }
    if (req.url === '/v1/models') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'tiny', object: 'model' }] })); return }
    if (req.method !== 'POST' || !req.url?.endsWith('/v1/chat/completions')) { res.writeHead(404).end(); return }
    let raw = ''
    req.on('data', (c: Buffer) => { raw += c.toString() })
    req.on('end', () => {
      state.chats++
      const body = JSON.parse(raw) as { model: string; stream?: boolean; stream_options?: { include_usage?: boolean }; messages: { content: string }[] }
      const text = `echo(${body.model}): ${body.messages.at(-1)?.content ?? ''}`
      const base = { id: 'chatcmpl-1', created: 1, model: body.model }
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          ...base, object: 'chat.completion', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text } }],
          usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
        }))
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      for (const word of text.split(' ')) {
        res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: `${word} ` }, finish_reason: null }] })}\n\n`)
      }
      res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`)
      if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } })}\n\n`)
      res.end('data: [DONE]\n\n')
    })
  })
  return Object.assign(srv, { chats: () => state.chats })
}

async function sellerOffer(name: string, price: string): Promise<void> {
  ok(await vend(ctx.seller.home, ['sell', 'http', name, '--upstream', ctx.upstream.url, '--price', price, '--pay-to', SELLER_PAY_TO, '--chain', 'local']), `sell http ${name}`)
}

async function buyAdd(args: string[]): Promise<VendResult> {
  return vend(ctx.buyer.home, ['buy', 'add', ...args])
}

type Status = { spent: { decimal: string; atomic: string }; remaining: { decimal: string; atomic: string }; pending: { atomic: string }; payments: number; requests: number; refused: number; lastError?: string }
async function buyStatus(name: string): Promise<Status> {
  return JSON.parse(ok(await vend(ctx.buyer.home, ['buy', 'status', name, '--json']), `buy status ${name}`).stdout) as Status
}

/** The seller's settled earnings for one offer, atomic units, from its ledger. */
async function earned(offer: string): Promise<bigint> {
  const rows = JSON.parse(ok(await vend(ctx.seller.home, ['sell', 'earnings', offer, '--json']), 'sell earnings').stdout) as { status: string; amountAtomic: string }[]
  return rows.filter((r) => r.status === 'settled').reduce((s, r) => s + BigInt(r.amountAtomic), 0n)
}

/** What the seller's 402 asks for this body on an inference offer's chat endpoint (unpaid), atomic units. */
async function sellerAsk(offer: string, body: string): Promise<bigint> {
  const res = await fetch(`${ctx.seller.url}/services/${offer}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  assert.equal(res.status, 402, await res.clone().text())
  await res.arrayBuffer()
  const amounts = new Set(decodePaymentRequiredHeader(res.headers.get('payment-required')!).accepts.map((a) => a.amount))
  assert.equal(amounts.size, 1, 'upto and the exact fallback ask the same maximum')
  return BigInt([...amounts][0]!)
}

const balance = (who: string) => usdcBalance(ctx.chain, who)
const chat = (model: string, content = 'hi') => fetch(`${ctx.buyer.url}/buy/v1/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
})

before(async () => {
  const seller = tempHome('vend-seller-')
  const buyer = tempHome('vend-buyer-')
  const upstream = await startOpenAiUpstream()
  const [sp, bp] = [await freePort(), await freePort()]
  ctx = { seller: { ...seller, url: `http://127.0.0.1:${sp}` }, buyer: { ...buyer, url: `http://127.0.0.1:${bp}`, address: '0x' }, chain: undefined as unknown as DevChainInfo, upstream }

  ok(await vend(seller.home, ['stack', 'up', '--dev', '--listen', `127.0.0.1:${sp}`]), 'seller stack up --dev')
  ctx.chain = readDevChain(homePaths(seller.home))!
  assert.ok(ctx.chain, 'the seller stack records its dev chain')

  const pw = join(buyer.home, 'password')
  writeFileSync(pw, PASSWORD, { mode: 0o600 })
  const wallet = JSON.parse(ok(await vend(buyer.home, ['wallet', 'create', '--password-file', pw, '--json']), 'buyer wallet create').stdout) as { address: `0x${string}` }
  ctx.buyer.address = wallet.address
  ok(await vend(buyer.home, ['stack', 'up', '--dev-join', ctx.chain.rpcUrl, '--listen', `127.0.0.1:${bp}`], { env: { VEND_WALLET_PASSWORD: PASSWORD } }), 'buyer stack up --dev-join')
  await fundUsdc(ctx.chain, wallet.address, '10')
  await sellerOffer('chat', '0.01')
  ok(await vend(seller.home, ['sell', 'inference', 'llm', '--model', 'tiny', '--upstream', upstream.url, '--price', '0.01', '--pay-to', SELLER_PAY_TO, '--chain', 'local']), 'sell inference llm')
  ok(await vend(seller.home, ['sell', 'inference', 'metered', '--model', 'tiny', '--upstream', upstream.url, '--per-mtok', String(PER_MTOK), '--max-tokens', '200', '--pay-to', SELLER_PAY_TO, '--chain', 'local']), 'sell inference metered')
})

after(async () => {
  if (!ctx) return
  await Promise.all([stopDaemon(ctx.buyer.home), stopDaemon(ctx.seller.home)])
  await ctx.upstream.close()
  ctx.buyer.cleanup()
  ctx.seller.cleanup()
})

test('the openai SDK buys inference through /buy/v1, streaming and not; chain balances move by exactly what both ledgers say', async () => {
  ok(await buyAdd([ctx.seller.url, '--offer', 'llm', '--budget', '1', '--per-day', '0.5', '--max-price', '0.05']), 'buy add llm')
  ok(await buyAdd([ctx.seller.url, '--offer', 'chat', '--budget', '1', '--name', 'chat']), 'buy add chat')
  const models = await (await fetch(`${ctx.buyer.url}/buy/v1/models`)).json() as { data: { id: string }[] }
  assert.ok(models.data.some((m) => m.id === 'llm/tiny'), JSON.stringify(models))

  const [buyer0, payTo0, earned0] = await Promise.all([balance(ctx.buyer.address), balance(SELLER_PAY_TO), earned('llm').then(async (e) => e + await earned('chat'))])
  const client = new OpenAI({ baseURL: `${ctx.buyer.url}/buy/v1`, apiKey: 'unused-locally', maxRetries: 0 })
  const done = await client.chat.completions.create({ model: 'llm/tiny', messages: [{ role: 'user', content: 'hello there' }] })
  assert.equal(done.choices[0]?.message.content, 'echo(tiny): hello there', 'the upstream got the offer\'s model name')

  const stream = await client.chat.completions.create({ model: 'llm/tiny', messages: [{ role: 'user', content: 'stream me' }], stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  assert.equal(text.trim(), 'echo(tiny): stream me')

  // The generic endpoint: /buy/<purchase>/<path> is the offer's endpoint + /<path>.
  const generic = await fetch(`${ctx.buyer.url}/buy/chat/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'raw', messages: [{ role: 'user', content: 'plain http' }] }),
  })
  assert.equal(generic.status, 200)
  assert.equal((await generic.json() as { choices: { message: { content: string } }[] }).choices[0]?.message.content, 'echo(raw): plain http')
  assert.ok(generic.headers.get('payment-response'), 'the seller\'s receipt is passed on')

  // The stream's receipt arrives at its end: wait until the buyer's ledger has all payments settled.
  const llm = await eventually('both inference payments settled in the buyer ledger', async () => {
    const s = await buyStatus('llm')
    return s.payments === 2 && s.pending.atomic === '0' ? s : undefined
  })
  assert.equal(llm.spent.atomic, '20000', 'two requests at 0.01 USDC')
  assert.equal(llm.remaining.decimal, '0.98')
  const http = await eventually('the HTTP payment settled', async () => { const s = await buyStatus('chat'); return s.pending.atomic === '0' ? s : undefined })
  const spent = BigInt(llm.spent.atomic) + BigInt(http.spent.atomic)
  assert.equal(spent, 30000n, 'three requests at 0.01 USDC')
  const [buyer1, payTo1, earned1] = await Promise.all([balance(ctx.buyer.address), balance(SELLER_PAY_TO), earned('llm').then(async (e) => e + await earned('chat'))])
  assert.equal(buyer0 - buyer1, spent, 'the buyer\'s balance fell by what its ledger says it spent')
  assert.equal(payTo1 - payTo0, spent, 'the seller\'s payTo received it')
  assert.equal(earned1 - earned0, spent, 'and the seller\'s ledger says it earned it')
})

test('a per-token offer is paid upto (Permit2): the budget, both ledgers and the chain count the usage, not the maximum', async () => {
  ok(await buyAdd([ctx.seller.url, '--offer', 'metered', '--budget', '1', '--name', 'metered']), 'buy add metered')
  const buyerRows = () => readPayments(homePaths(ctx.buyer.home), 'purchase/metered')
  const sellerRows = () => readPayments(homePaths(ctx.seller.home), 'default/metered')
  // The seller meters the upstream's usage (3 prompt + 4 completion tokens) and authorises at most the prompt's
  // upper bound + max_tokens.
  const usageCost = 7n * BigInt(PER_MTOK)
  const ask = (content: string, stream: boolean) => fetch(`${ctx.buyer.url}/buy/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'metered/tiny', messages: [{ role: 'user', content }], max_tokens: 20, ...(stream ? { stream: true } : {}) }),
  })
  const settledRow = async (n: number) => eventually(`buyer payment ${n} settled`, async () => {
    const rows = [...await buyerRows()].sort((a, b) => a.id - b.id)
    return rows.length === n && rows.every((r) => r.status === 'settled') ? rows : undefined
  })

  // Without ETH the stack wallet cannot approve Permit2 (one transaction): it pays the exact fallback, the maximum.
  const [payTo0, buyer0] = [await balance(SELLER_PAY_TO), await balance(ctx.buyer.address)]
  const first = await ask('hello there', false)
  assert.equal(first.status, 200, await first.clone().text())
  assert.equal((await first.json() as { choices: { message: { content: string } }[] }).choices[0]?.message.content, 'echo(tiny): hello there')
  const [exactRow] = await settledRow(1)
  const max = exactRow!.amount
  assert.ok(max > usageCost * 2n, `the maximum ${max} is well above the usage's ${usageCost}`)
  assert.equal(JSON.parse(exactRow!.requirements).scheme, 'exact')
  assert.equal(exactRow!.chargedAmount, max)
  assert.equal(await balance(SELLER_PAY_TO) - payTo0, max, 'the exact fallback moved the full maximum')
  assert.equal(buyer0 - await balance(ctx.buyer.address), max)

  // With ETH for gas the stack wallet approves Permit2 once (one transaction, also for concurrent first payments)
  // and pays upto: charged the usage.
  await fundEth(ctx.chain, ctx.buyer.address, parseEther('1'))
  const payTo1 = await balance(SELLER_PAY_TO)
  const answers = await Promise.all(Array.from({ length: 4 }, () => ask('hello there', false)))
  for (const a of answers) {
    assert.equal(a.status, 200, await a.clone().text())
    assert.equal((await a.json() as { choices: { message: { content: string } }[] }).choices[0]?.message.content, 'echo(tiny): hello there')
  }
  const uptoRows = (await settledRow(5)).slice(1)
  for (const uptoRow of uptoRows) {
    assert.equal(JSON.parse(uptoRow.requirements).scheme, 'upto')
    assert.equal(uptoRow.amount, max, 'the row records the authorised maximum')
    assert.equal(uptoRow.chargedAmount, usageCost, 'and the charged usage, from the receipt')
    assert.match(uptoRow.nonce, /^\d+$/, 'the Permit2 nonce, decimal')
    assert.equal(uptoRow.payer.toLowerCase(), ctx.buyer.address.toLowerCase())
    const permit = JSON.parse(uptoRow.payload).payload.permit2Authorization as { nonce: string; deadline: string; witness: { to: string } }
    assert.equal(uptoRow.nonce, permit.nonce)
    assert.equal(uptoRow.validBefore, Number(permit.deadline))
    assert.equal(permit.witness.to.toLowerCase(), SELLER_PAY_TO.toLowerCase())
    const sellerUpto = (await sellerRows()).find((r) => r.txHash === uptoRow.txHash)
    assert.equal(sellerUpto?.chargedAmount, usageCost, 'the seller\'s ledger charged the same')
  }
  assert.equal(await balance(SELLER_PAY_TO) - payTo1, 4n * usageCost, 'the chain moved exactly the charged amounts')
  const txCount = await createPublicClient({ transport: rpc(ctx.chain.rpcUrl) }).getTransactionCount({ address: ctx.buyer.address })
  assert.equal(txCount, 1, 'one Permit2 approval for the four concurrent first payments')

  // Streaming: the receipt arrives at the end of the stream and lowers the count from the maximum to the charge.
  const payTo2 = await balance(SELLER_PAY_TO)
  const client = new OpenAI({ baseURL: `${ctx.buyer.url}/buy/v1`, apiKey: 'unused-locally', maxRetries: 0 })
  const stream = await client.chat.completions.create({ model: 'metered/tiny', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 20, stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  assert.equal(text.trim(), 'echo(tiny): hello there')
  const streamRow = (await settledRow(6))[5]!
  assert.equal(JSON.parse(streamRow.requirements).scheme, 'upto')
  assert.equal(streamRow.chargedAmount, usageCost)
  assert.equal((await sellerRows()).find((r) => r.txHash === streamRow.txHash)?.chargedAmount, usageCost)
  assert.equal(await balance(SELLER_PAY_TO) - payTo2, usageCost)

  const s = await eventually('the budget counts the charges', async () => { const st = await buyStatus('metered'); return st.pending.atomic === '0' ? st : undefined })
  assert.equal(s.payments, 6)
  assert.equal(s.spent.atomic, String(max + 5n * usageCost), 'the budget counts the maximum for exact and the usage for upto')
  assert.equal(s.remaining.atomic, String(1_000_000n - max - 5n * usageCost))
  assert.equal(buyer0 - await balance(ctx.buyer.address), BigInt(s.spent.atomic), 'the chain agrees with the budget to the atomic unit')

  // The daemon's budget book (what admits the next request) also frees what was not charged, after a stream's
  // receipt too: a budget of one maximum + two charges - 1 admits a stream and one more request, then refuses.
  const pingBody = (model: string, stream: boolean) => JSON.stringify({ model, messages: [{ role: 'user', content: 'ping' }], ...(stream ? { stream: true } : {}) })
  const price = await sellerAsk('metered', pingBody('tiny', true))
  ok(await buyAdd([ctx.seller.url, '--offer', 'metered', '--budget', formatAtomic(price + 2n * usageCost - 1n, 6), '--name', 'tight']), 'buy add tight')
  const ping = (stream: boolean) => fetch(`${ctx.buyer.url}/buy/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: pingBody('tight/tiny', stream),
  })
  const tightBuyer0 = await balance(ctx.buyer.address)
  const streamed = await ping(true)
  assert.equal(streamed.status, 200)
  assert.match(await streamed.text(), /data: \[DONE\]/)
  await eventually('the stream\'s receipt settled the tight purchase', async () => { const st = await buyStatus('tight'); return st.payments === 1 && st.pending.atomic === '0' ? st : undefined })
  const fits = await ping(false)
  assert.equal(fits.status, 200, `the stream counted its charge, not the maximum: ${await fits.clone().text()}`)
  await fits.arrayBuffer()
  const refused = await ping(false)
  assert.equal(refused.status, 402)
  assert.equal((await refused.json() as { error: { code: string } }).error.code, 'budget_total_exceeded')
  const tight = await buyStatus('tight')
  assert.equal(tight.spent.atomic, String(2n * usageCost))
  assert.equal(tightBuyer0 - await balance(ctx.buyer.address), 2n * usageCost)
})

test('a per-token purchase records the price per million tokens: a much longer prompt at the seller\'s max_tokens limit is paid its usage; a raised per-token price is refused and nothing is paid', async () => {
  ok(await vend(ctx.seller.home, ['sell', 'inference', 'tokens', '--model', 'tiny', '--upstream', ctx.upstream.url, '--per-mtok', String(PER_MTOK), '--max-tokens', '200', '--pay-to', SELLER_PAY_TO, '--chain', 'local']), 'sell inference tokens')
  const added = JSON.parse(ok(await buyAdd([ctx.seller.url, '--offer', 'tokens', '--budget', '2', '--name', 'tokens', '--json']), 'buy add tokens').stdout) as { spec: { payment: { price: string; unit?: string; maxTokens?: number }; budget: { maxPerRequest: string } } }
  assert.equal(added.spec.payment.unit, 'perMTok')
  assert.equal(added.spec.payment.price, String(PER_MTOK), 'the seller\'s price per million tokens, not a probe\'s amount')
  assert.ok(added.spec.payment.maxTokens! >= 200 && added.spec.payment.maxTokens! < 300, `the seller's limit from the probe: ${added.spec.payment.maxTokens}`)
  assert.equal(added.spec.budget.maxPerRequest, '2', 'per-token requests are capped by the budget by default')
  assert.match(ok(await vend(ctx.buyer.home, ['buy', 'status', 'tokens']), 'buy status').stdout, /Price: +100 USDC per million tokens on eip155:31337/)
  assert.match(ok(await vend(ctx.buyer.home, ['buy', 'list']), 'buy list').stdout, /tokens +default\/tokens +100 USDC\/MTok/)

  // Upto needs the stack wallet's one Permit2 approval (done by the test above; funded here when run alone).
  await fundEth(ctx.chain, ctx.buyer.address, parseEther('0.1'))
  const long = 'Summarise this, please. '.repeat(200) // ~4.8 kB: about 20 times the probe's prompt + limit in tokens
  const body = (model: string) => JSON.stringify({ model, messages: [{ role: 'system', content: 'be terse' }, { role: 'user', content: long }], max_tokens: 200 })
  const probeAsk = await sellerAsk('tokens', JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'ping' }] }))
  const longAsk = await sellerAsk('tokens', body('tiny'))
  assert.ok(longAsk > 10n * probeAsk, `the long request's maximum ${longAsk} is far above the probe's ${probeAsk}`)
  const usageCost = 7n * BigInt(PER_MTOK)
  const [buyer0, payTo0] = [await balance(ctx.buyer.address), await balance(SELLER_PAY_TO)]
  const res = await fetch(`${ctx.buyer.url}/buy/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body('tokens/tiny') })
  assert.equal(res.status, 200, await res.clone().text())
  await res.arrayBuffer()
  const [row] = await eventually('the long request settled', async () => {
    const rows = await readPayments(homePaths(ctx.buyer.home), 'purchase/tokens')
    return rows.length === 1 && rows[0]!.status === 'settled' ? rows : undefined
  })
  assert.equal(JSON.parse(row!.requirements).scheme, 'upto')
  assert.equal(row!.amount, longAsk, 'the buyer authorised the seller\'s maximum for this request')
  assert.equal(row!.chargedAmount, usageCost, 'and was charged the usage')
  assert.equal(buyer0 - await balance(ctx.buyer.address), usageCost, 'the chain moved the usage, not the maximum')
  assert.equal(await balance(SELLER_PAY_TO) - payTo0, usageCost)

  // The seller doubles its per-token price: the same request now asks twice the maximum its body allows at 100/MTok.
  ok(await vend(ctx.seller.home, ['sell', 'update', 'tokens', '--per-mtok', String(2 * PER_MTOK)]), 'sell update --per-mtok')
  await eventually('the seller asks the new price', async () => ((await sellerAsk('tokens', body('tiny'))) > longAsk ? true : undefined))
  const [buyer1, hits1] = [await balance(ctx.buyer.address), ctx.upstream.chats()]
  const refused = await fetch(`${ctx.buyer.url}/buy/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body('tokens/tiny') })
  const err = (await refused.json() as { error: { code: string; message: string } }).error
  assert.equal(refused.status, 402)
  assert.equal(err.code, 'price_increased')
  assert.match(err.message, /asks [\d.]+ USDC for this request, more than the [\d.]+ USDC allowed for it by the 100 USDC per million tokens recorded for purchase tokens \(at most \d+ prompt tokens \+ 200 max_tokens\), so nothing was paid/)
  const [asked, allowed] = [...err.message.matchAll(/([\d.]+) USDC/g)].map((m) => m[1])
  assert.equal(asked, formatAtomic(2n * longAsk, 6), 'the message shows what the seller asked')
  assert.ok(Number(allowed) < Number(asked) && Number(allowed) >= Number(formatAtomic(longAsk, 6)), `and the bound: ${allowed}`)
  assert.equal(ctx.upstream.chats(), hits1, 'the seller\'s upstream was not called')
  assert.equal(await balance(ctx.buyer.address), buyer1, 'nothing was paid')
  assert.equal((await readPayments(homePaths(ctx.buyer.home), 'purchase/tokens')).length, 1, 'nothing was signed')
})

test('50 concurrent requests against a budget that allows 20: exactly 20 paid, 30 refused locally', async () => {
  ok(await buyAdd([ctx.seller.url, '--offer', 'chat', '--budget', '0.2', '--name', 'burst']), 'buy add burst')
  const [buyer0, hits0] = [await balance(ctx.buyer.address), ctx.upstream.chats()]
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => chat('burst/tiny', `n${i}`).then(async (r) => ({ status: r.status, body: await r.json() as { error?: { code?: string; message?: string } } }))))
  const paid = answers.filter((a) => a.status === 200)
  const refused = answers.filter((a) => a.status === 402)
  assert.equal(paid.length, 20, JSON.stringify(answers.filter((a) => a.status !== 200 && a.status !== 402).slice(0, 3)))
  assert.equal(refused.length, 30)
  for (const r of refused) {
    assert.equal(r.body.error?.code, 'budget_total_exceeded')
    assert.match(r.body.error?.message ?? '', /total budget.*--budget/)
  }
  assert.equal(ctx.upstream.chats() - hits0, 20, 'only paid requests reached the seller\'s upstream')
  const s = await eventually('20 payments in the buyer ledger', async () => { const st = await buyStatus('burst'); return st.payments === 20 && st.pending.atomic === '0' ? st : undefined })
  assert.equal(s.spent.atomic, '200000')
  assert.equal(s.remaining.atomic, '0')
  assert.equal(buyer0 - await balance(ctx.buyer.address), 200000n, 'the chain agrees: 0.2 USDC, never more')
  assert.equal(s.refused, 30)
  assert.match(s.lastError ?? '', /total budget/)

  // The spend is durable: a restarted buyer stack still refuses the exhausted budget, and pays once it is raised.
  ok(await vend(ctx.buyer.home, ['stack', 'down', '--yes']), 'buyer stack down')
  ok(await vend(ctx.buyer.home, ['stack', 'up'], { env: { VEND_WALLET_PASSWORD: PASSWORD } }), 'buyer stack up again')
  const again = await chat('burst/tiny')
  assert.equal(again.status, 402)
  assert.equal((await again.json() as { error: { code: string } }).error.code, 'budget_total_exceeded')
  ok(await buyAdd([ctx.seller.url, '--offer', 'chat', '--budget', '0.21', '--name', 'burst']), 'raise the budget')
  assert.equal((await chat('burst/tiny')).status, 200)
  assert.equal((await chat('burst/tiny')).status, 402, 'one more request fitted in the raised budget')
})

test('a seller that raises its price after `buy add` is refused with a clear reason and nothing is paid', async () => {
  await sellerOffer('pricey', '0.01')
  ok(await buyAdd([ctx.seller.url, '--offer', 'pricey', '--budget', '1', '--name', 'pricey']), 'buy add pricey')
  ok(await vend(ctx.seller.home, ['sell', 'update', 'pricey', '--price', '0.02']), 'sell update --price')
  const [buyer0, hits0] = [await balance(ctx.buyer.address), ctx.upstream.chats()]
  const res = await chat('pricey/default')
  const body = await res.json() as { error: { code: string; message: string } }
  assert.equal(res.status, 402)
  assert.equal(body.error.code, 'price_increased')
  assert.match(body.error.message, /now asks 0\.02 USDC per request, more than the 0\.01 USDC recorded/)
  assert.equal(ctx.upstream.chats(), hits0, 'the seller\'s upstream was not called')
  assert.equal(await balance(ctx.buyer.address), buyer0, 'nothing was paid')
  const s = await buyStatus('pricey')
  assert.equal(s.payments, 0)
  assert.match(s.lastError ?? '', /now asks 0\.02 USDC/)

  // `buy add` with the live price refuses a --max-price below it, and accepts it otherwise.
  const low = await buyAdd([ctx.seller.url, '--offer', 'pricey', '--budget', '1', '--max-price', '0.015', '--name', 'pricey'])
  assert.equal(low.code, 2)
  assert.match(low.stderr, /asks 0\.02 USDC per request, more than --max-price 0\.015/)
  ok(await buyAdd([ctx.seller.url, '--offer', 'pricey', '--budget', '1', '--name', 'pricey']), 'buy add at the new price')
  assert.equal((await chat('pricey/default')).status, 200)
})

test('discovery by agentId on the dev chain\'s ERC-8004 registry finds the seller\'s endpoint', async () => {
  const chain = resolveChain('local')
  const { publicClient, walletClient } = chainClients(chain, ctx.chain.rpcUrl, privateKeyToAccount(AGENT_OWNER_KEY))
  const { agentId } = await registerAgent({
    publicClient, walletClient: walletClient!, registry: ctx.chain.identityRegistry, agentURI: `${ctx.seller.url}/.well-known/agent-registration.json`,
  })
  const r = JSON.parse(ok(await buyAdd([`${agentId}@local`, '--offer', 'chat', '--budget', '0.05', '--name', 'by-agent', '--json']), 'buy add <agentId>@local').stdout) as { spec: { endpoint: string; payment: { price: string } } }
  assert.equal(r.spec.endpoint, `${ctx.seller.url}/services/chat`)
  assert.equal(r.spec.payment.price, '0.01')
  assert.equal((await chat('by-agent/x', 'via agent')).status, 200)

  const list = JSON.parse(ok(await vend(ctx.buyer.home, ['buy', 'list', '--json']), 'buy list').stdout) as { name: string }[]
  assert.ok(list.some((p) => p.name === 'by-agent'))
  ok(await vend(ctx.buyer.home, ['buy', 'remove', 'by-agent']), 'buy remove')
  const gone = await chat('by-agent/x')
  assert.equal(gone.status, 404)
  assert.match((await gone.json() as { error: { message: string } }).error.message, /no purchase named "by-agent"/)

  const missing = await buyAdd([`${agentId + 1000n}@local`, '--budget', '1'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /There is no agent \d+ in the Identity Registry on local/)
})
