/**
 * Real x402 payments end to end: anvil + Circle USDC, the real gateway with the payments gate and the in-process
 * facilitator, and the official @x402/fetch 2.x client as buyer.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { randomBytes } from 'node:crypto'
import { decodeEventLog, parseAbi, toHex, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { chainClients } from '../src/devchain/contracts.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { paidOffer, payingFetch, signedHeader, startPaidStack, startUpstream, until, type PaidStack, type Upstream } from '../src/payments/testStack.ts'

let chain: TestChain
let upstream: Upstream
let stack: PaidStack
let releaseStream: () => void = () => {}
const PRICE = 10_000n

before(async () => {
  chain = await startTestChain()
  upstream = await startUpstream({
    '/fail': (_req, res) => { res.writeHead(500, { 'content-type': 'application/json' }); res.end('{"error":"boom"}') },
    '/slow': () => { /* never answers: the offer's 1 s upstream timeout fires */ },
    '/sse': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.write('data: first\n\n')
      const done = new Promise<void>((r) => { releaseStream = r })
      void done.then(() => { res.write('data: last\n\n'); res.end() })
    },
  })
  stack = await startPaidStack({
    chain,
    offers: [
      paidOffer(chain, { name: 'weather', upstreamUrl: upstream.url }),
      paidOffer(chain, { name: 'slow', upstreamUrl: upstream.url, timeoutSeconds: 1 }),
      paidOffer(chain, { name: 'eager', upstreamUrl: upstream.url, settlement: 'optimistic' }),
    ],
  })
})

after(async () => {
  releaseStream()
  await stack?.stop()
  await upstream?.close()
  await chain?.stop()
})

const url = (path: string) => `${stack.gateway.url}${path}`
const balances = async () => [await chain.balanceOf(chain.buyer.address), await chain.balanceOf(chain.payTo.address)] as const

async function requirements(path: string): Promise<PaymentRequirements> {
  const res = await fetch(url(path))
  assert.equal(res.status, 402)
  return decodePaymentRequiredHeader(res.headers.get('payment-required')!).accepts[0]!
}

async function rowFor(nonceOrTx: { tx?: string; payer?: string }) {
  return (await stack.rows()).find((r) => (nonceOrTx.tx ? r.txHash === nonceOrTx.tx : true))
}

test('a paid call moves exactly the price from buyer to payTo and the ledger holds the on-chain transaction', async () => {
  const [buyer0, payTo0] = await balances()
  const res = await payingFetch(chain)(url('/services/weather/today'))
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { ok: true, path: '/today' })
  const receipt = decodePaymentResponseHeader(res.headers.get('payment-response')!)
  assert.equal(receipt.success, true)
  assert.equal(receipt.network, chain.caip2)
  const [buyer1, payTo1] = await balances()
  assert.equal(buyer0 - buyer1, PRICE)
  assert.equal(payTo1 - payTo0, PRICE)

  const row = await rowFor({ tx: receipt.transaction })
  assert.ok(row, 'the ledger has a row with the receipt transaction')
  assert.equal(row.status, 'settled')
  assert.equal(row.offer, 'default/weather')
  assert.equal(row.amount, PRICE)
  assert.equal(row.chargedAmount, PRICE)
  assert.equal(row.payer, chain.buyer.address.toLowerCase())

  const txReceipt = await chain.rpc<{ status: Hex; logs: { address: Hex; topics: [Hex, ...Hex[]]; data: Hex }[] }>('eth_getTransactionReceipt', [receipt.transaction])
  assert.equal(txReceipt.status, '0x1')
  const transfers = txReceipt.logs.filter((l) => l.address.toLowerCase() === chain.usdc.address.toLowerCase()).flatMap((l) => {
    try { return [decodeEventLog({ abi: parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']), ...l })] } catch { return [] }
  })
  assert.equal(transfers.length, 1)
  assert.equal(transfers[0]!.args.from, chain.buyer.address)
  assert.equal(transfers[0]!.args.to, chain.payTo.address)
  assert.equal(transfers[0]!.args.value, PRICE)
})

test('bad payments are refused with their reason, and the upstream is never called', async () => {
  const req = await requirements('/services/weather/bad')
  const now = Math.floor(Date.now() / 1000)
  const paid = await payingFetch(chain)(url('/services/weather/replayed'))
  assert.equal(paid.status, 200)
  const usedNonce = (await stack.rows()).at(-1)!.nonce as Hex
  const cases: [string, string, string][] = [
    ['malformed header', '%%% not base64 json', 'invalid_payload'],
    ['wrong network', await signedHeader(chain, req, { accepted: { network: 'eip155:1' } }), 'invalid_exact_evm_network_mismatch'],
    ['wrong asset', await signedHeader(chain, req, { accepted: { asset: chain.other.address } }), 'invalid_exact_evm_asset_mismatch'],
    ['wrong payTo', await signedHeader(chain, req, { to: chain.other.address }), 'invalid_exact_evm_recipient_mismatch'],
    ['amount mismatch', await signedHeader(chain, req, { value: '1' }), 'invalid_exact_evm_payload_authorization_value_mismatch'],
    ['expired', await signedHeader(chain, req, { validBefore: String(now + 2) }), 'invalid_exact_evm_payload_authorization_valid_before'],
    ['not yet valid', await signedHeader(chain, req, { validAfter: String(now + 3600) }), 'invalid_exact_evm_payload_authorization_valid_after'],
    ['bad signature', await signedHeader(chain, req, { key: chain.other.privateKey, from: chain.buyer.address }), 'invalid_exact_evm_signature'],
    ['insufficient balance', await signedHeader(chain, req, { key: chain.other.privateKey }), 'invalid_exact_evm_insufficient_balance'],
    ['used nonce', await signedHeader(chain, req, { nonce: usedNonce }), 'invalid_exact_evm_nonce_already_used'],
  ]
  const hitsBefore = upstream.hits.get('/bad') ?? 0
  const [buyer0] = await balances()
  for (const [name, header, reason] of cases) {
    const res = await fetch(url('/services/weather/bad'), { headers: { 'payment-signature': header } })
    assert.equal(res.status, 402, name)
    const body = await res.json() as { error: string; reason: string; message: string }
    assert.equal(body.reason, reason, name)
    assert.equal(body.error, reason, name)
    assert.ok(body.message.length > 10, name)
    assert.equal(decodePaymentRequiredHeader(res.headers.get('payment-required')!).error, reason, name)
  }
  assert.equal(upstream.hits.get('/bad') ?? 0, hitsBefore)
  assert.equal((await balances())[0], buyer0)
})

test('upstream 500 and upstream timeout settle nothing and are recorded as not charged', async () => {
  const [buyer0] = await balances()
  const failed = await payingFetch(chain)(url('/services/weather/fail'))
  assert.equal(failed.status, 500)
  assert.equal(failed.headers.get('payment-response'), null)
  const slow = await payingFetch(chain)(url('/services/slow/slow'))
  assert.equal(slow.status, 504)
  assert.equal((await balances())[0], buyer0)
  const rows = (await stack.rows()).slice(-2)
  assert.deepEqual(rows.map((r) => [r.offer, r.status, r.error]), [
    ['default/weather', 'not_charged', 'upstream_status_500'],
    ['default/slow', 'not_charged', 'upstream_timeout'],
  ])
})

test('ten concurrent copies of one payment: upstream hit once, one settlement, nine refusals', async () => {
  const req = await requirements('/services/weather/once')
  const header = await signedHeader(chain, req)
  const [buyer0, payTo0] = await balances()
  const results = await Promise.all(Array.from({ length: 10 }, () => fetch(url('/services/weather/once'), { headers: { 'payment-signature': header } })
    .then(async (r) => ({ status: r.status, body: await r.json() as { reason?: string } }))))
  assert.equal(results.filter((r) => r.status === 200).length, 1)
  const refused = results.filter((r) => r.status === 402)
  assert.equal(refused.length, 9)
  for (const r of refused) assert.equal(r.body.reason, 'invalid_exact_evm_nonce_already_used')
  assert.equal(upstream.hits.get('/once'), 1)
  const [buyer1, payTo1] = await balances()
  assert.equal(buyer0 - buyer1, PRICE)
  assert.equal(payTo1 - payTo0, PRICE)
})

test('SSE: the first event reaches the buyer before the upstream finishes; settlement follows the last event', async () => {
  const [buyer0] = await balances()
  const res = await payingFetch(chain)(url('/services/weather/sse'))
  assert.equal(res.status, 200)
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!text.includes('data: first')) text += decoder.decode((await reader.read()).value)
  // the upstream is still holding the stream open: nothing is charged yet
  assert.equal((await balances())[0], buyer0)
  assert.equal((await stack.rows()).at(-1)!.status, 'verified')
  releaseStream()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value)
  }
  assert.ok(text.indexOf('data: last') < text.indexOf(': x402 payment-response '), text)
  const receipt = decodePaymentResponseHeader(/: x402 payment-response (\S+)/.exec(text)![1]!)
  assert.equal(receipt.success, true)
  assert.equal(buyer0 - (await balances())[0], PRICE)
  assert.equal((await stack.rows()).at(-1)!.txHash, receipt.transaction)
})

test('a client that disconnects mid-stream is not charged', async () => {
  const [buyer0] = await balances()
  const ac = new AbortController()
  const res = await payingFetch(chain)(url('/services/weather/sse'), { signal: ac.signal })
  const reader = res.body!.getReader()
  await reader.read()
  ac.abort()
  const row = await until(async () => { const r = (await stack.rows()).at(-1)!; return r.status !== 'verified' && r })
  assert.equal(row.status, 'not_charged')
  assert.equal(row.error, 'client_gone')
  releaseStream()
  assert.equal((await balances())[0], buyer0)
})

test('optimistic settlement answers first and settles from the queue', async () => {
  const [buyer0] = await balances()
  const res = await payingFetch(chain)(url('/services/eager/now'))
  assert.equal(res.status, 200)
  const row = await until(async () => { const r = (await stack.rows()).at(-1)!; return r.status === 'settled' && r })
  assert.equal(row.offer, 'default/eager')
  assert.equal(row.settlement, 'optimistic')
  assert.equal(buyer0 - (await balances())[0], PRICE)
})

test('a repeat payer whose funds left since its last payment: no answer and no charge, buffered or streamed', async () => {
  // a payer of our own, so no other test's balance moves: funded for three payments, with ETH to move its funds
  const key = toHex(randomBytes(32))
  const payer = privateKeyToAccount(key)
  await chain.mint(payer.address, 3n * PRICE)
  await chain.rpc('anvil_setBalance', [payer.address, '0xde0b6b3a7640000'])
  const pay = payingFetch(chain, key)
  // first payment: simulated on chain, and the payer's balance is now known to the facilitator
  assert.equal((await pay(url('/services/weather/first'))).status, 200)
  // the payer empties its wallet elsewhere; the facilitator still believes 2 x PRICE are there
  await chainClients(chain.rpcUrl, chain.chainId).wallet(key).writeContract({
    address: chain.usdc.address, abi: parseAbi(['function transfer(address to, uint256 value) returns (bool)']), functionName: 'transfer', args: [chain.other.address, 2n * PRICE],
  })
  const payTo0 = await chain.balanceOf(chain.payTo.address)
  const header = async (path: string) => signedHeader(chain, await requirements(path), { key })

  // a stream is checked on chain before its first byte: refused, nothing delivered
  const streamed = await fetch(url('/services/weather/sse'), { headers: { 'payment-signature': await header('/services/weather/sse') } })
  assert.equal(streamed.status, 402)
  assert.equal(((await streamed.json()) as { reason: string }).reason, 'invalid_exact_evm_insufficient_balance')
  releaseStream()
  const streamRow = (await stack.rows()).at(-1)!
  assert.equal(streamRow.status, 'not_charged')
  assert.equal(streamRow.payer, payer.address.toLowerCase())

  // a buffered answer waits for its settlement, which fails: the buyer gets the refusal, not the answer
  const buffered = await fetch(url('/services/weather/drained'), { headers: { 'payment-signature': await header('/services/weather/drained') } })
  assert.equal(buffered.status, 402)
  assert.doesNotMatch(await buffered.text(), /"path":"\/drained"/, 'the upstream answer is not released')
  const row = (await stack.rows()).at(-1)!
  assert.equal(row.payer, payer.address.toLowerCase())
  assert.notEqual(row.status, 'settled')
  assert.equal(row.chargedAmount ?? 0n, 0n)

  // the failure made the facilitator forget the payer: the next payment is simulated first, the upstream not called
  const hits = upstream.hits.get('/again') ?? 0
  const again = await fetch(url('/services/weather/again'), { headers: { 'payment-signature': await header('/services/weather/again') } })
  assert.equal(again.status, 402)
  assert.equal(((await again.json()) as { reason: string }).reason, 'invalid_exact_evm_insufficient_balance')
  assert.equal(upstream.hits.get('/again') ?? 0, hits)
  assert.equal(await chain.balanceOf(chain.payTo.address), payTo0, 'payTo received nothing')
})
