/**
 * The inference building blocks composed the way the payment gate wires them, without payments: a minimal
 * metering proxy (validate -> maximum -> upstream call -> response meter -> amount) in front of the embedded
 * runtime serving the tiny model, with the official openai SDK as the buyer. Each test checks the amount a
 * payment would settle against the usage the buyer saw.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { ensureTinyModel } from './helpers/tinyModel.ts'
import { startEmbeddedModel, type EmbeddedModel } from '../src/inference/embeddedRuntime.ts'
import { estimatePromptTokens, meteredCost } from '../src/inference/metering.ts'
import { prepareInference, type InferencePricing, type SettlementScheme } from '../src/inference/prepareInference.ts'
import { apiBase } from '../src/inference/upstream.ts'
import { inferenceKind, validateRequest } from '../src/inference/validateRequest.ts'
import { toAtomic } from '../src/offer/price.ts'
import type { ResolvedPrice } from '../src/offer/resolveOffer.ts'

const MODEL = 'tiny'
const price: ResolvedPrice = { unit: 'perMTok', decimal: '2.5', atomic: toAtomic('2.5', 6) } // 2.5 USDC per million tokens
type Settled = { maxAmount: bigint; amount: bigint; promptTokens: number; completionTokens: number; completed: boolean; scheme: SettlementScheme }

let rt: EmbeddedModel
let proxy: http.Server
let baseURL: string
const settled: Settled[] = []
let scheme: SettlementScheme = 'upto'

before(async () => {
  rt = await startEmbeddedModel({ file: await ensureTinyModel(), modelName: MODEL, threads: 1 })
  const pricing: InferencePricing = { model: MODEL, maxTokens: 200, price, countPromptTokens: (r) => rt.countPromptTokens(r), continuousUsage: true }
  proxy = http.createServer(async (req, res) => {
    const kind = inferenceKind((req.url ?? '').replace(/^\/svc/, ''))
    if (!kind || req.method !== 'POST') { res.writeHead(404).end(); return }
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const p = prepareInference(kind, Buffer.concat(chunks), pricing)
    if (!p.ok) { res.writeHead(p.status, { 'content-type': 'application/json' }).end(JSON.stringify(p.body)); return }
    // (here the gate asks for / verifies a payment of at most p.maxAmount)
    const up = await fetch(apiBase(rt.url) + p.upstreamPath, { method: 'POST', headers: { 'content-type': 'application/json' }, body: p.upstreamBody })
    const meter = p.meter()
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' })
    let completed = true
    res.on('close', () => { if (!res.writableFinished) completed = false })
    try {
      for await (const chunk of up.body!) {
        if (res.destroyed) { completed = false; break }
        const out = meter.push(chunk)
        if (out.length) res.write(out)
      }
      res.end(meter.flush())
    } catch { completed = false }
    const s = meter.settle(scheme, completed && !res.destroyed)
    settled.push({ maxAmount: p.maxAmount, amount: s.amount, promptTokens: s.usage.promptTokens, completionTokens: s.usage.completionTokens, completed, scheme })
  })
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
  baseURL = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/svc/v1`
})
after(async () => {
  proxy?.closeAllConnections()
  proxy?.close()
  await rt?.close()
})

const buyer = () => new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 })
const cost = (prompt: number, completion: number) => meteredCost(price, { promptTokens: prompt, completionTokens: completion })
/** Wait for the proxy to record the settlement of the request that just finished. */
async function lastSettlement(count: number): Promise<Settled> {
  while (settled.length < count) await new Promise((r) => setImmediate(r))
  return settled[count - 1]!
}

test('non-streaming chat: the settled amount is exactly (prompt + completion tokens) x price, rounded up', async () => {
  const n = settled.length
  const r = await buyer().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'tell me about the water' }], max_tokens: 40, temperature: 0 })
  const s = await lastSettlement(n + 1)
  assert.ok(r.usage)
  assert.equal(s.promptTokens, r.usage.prompt_tokens)
  assert.equal(s.completionTokens, r.usage.completion_tokens)
  assert.equal(s.amount, cost(r.usage.prompt_tokens, r.usage.completion_tokens))
  assert.equal(s.maxAmount, cost(r.usage.prompt_tokens, 40))
  assert.ok(s.amount <= s.maxAmount)
})

test('streaming chat with usage: the buyer sees chunks and usage; the amount matches that usage', async () => {
  const n = settled.length
  const stream = await buyer().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'and the day?' }], max_tokens: 60, temperature: 0, stream: true, stream_options: { include_usage: true } })
  let chunks = 0
  let usage: OpenAI.CompletionUsage | undefined
  for await (const c of stream) { chunks++; if (c.usage) usage = c.usage }
  const s = await lastSettlement(n + 1)
  assert.ok(usage && chunks > 2)
  assert.equal(s.amount, cost(usage.prompt_tokens, usage.completion_tokens))
  assert.equal(s.completed, true)
})

test('streaming chat without include_usage: no usage chunk reaches the buyer, the amount is still exact', async () => {
  const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'one more' }], max_tokens: 30, temperature: 0 }
  const withUsage = await buyer().chat.completions.create({ ...body, stream: false })
  const n = settled.length
  const stream = await buyer().chat.completions.create({ ...body, stream: true })
  let text = ''
  for await (const c of stream) {
    assert.equal(c.choices.length, 1, 'every chunk the buyer gets has a choice')
    assert.equal(c.usage ?? undefined, undefined)
    text += c.choices[0]?.delta.content ?? ''
  }
  const s = await lastSettlement(n + 1)
  assert.equal(text, withUsage.choices[0]?.message.content)
  assert.equal(s.amount, cost(withUsage.usage!.prompt_tokens, withUsage.usage!.completion_tokens))
})

test('an abandoned stream settles the tokens delivered, not the maximum', async () => {
  const n = settled.length
  const stream = await buyer().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'go on and on' }], max_tokens: 200, temperature: 0, stream: true })
  let content = 0
  // Leaving the loop makes the SDK abort the request: the buyer hangs up after three content chunks.
  for await (const c of stream) if (c.choices[0]?.delta.content && ++content === 3) break
  const s = await lastSettlement(n + 1)
  assert.equal(s.completed, false)
  assert.ok(s.completionTokens >= 3 && s.completionTokens < 200, `completion tokens ${s.completionTokens}`)
  assert.equal(s.amount, cost(s.promptTokens, s.completionTokens))
  assert.ok(s.amount < s.maxAmount)
})

test('exact fallback: the fixed maximum when the response completes, nothing when the buyer abandons it', async () => {
  scheme = 'exact'
  try {
    const n = settled.length
    await buyer().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 10, temperature: 0 })
    const s = await lastSettlement(n + 1)
    assert.equal(s.amount, s.maxAmount)
    const stream = await buyer().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'go on' }], max_tokens: 200, temperature: 0, stream: true })
    for await (const c of stream) if (c.choices[0]?.delta.content) break
    const a = await lastSettlement(n + 2)
    assert.equal(a.amount, 0n)
  } finally { scheme = 'upto' }
})

test('invalid requests get OpenAI 400s and are never metered', async () => {
  const n = settled.length
  await assert.rejects(buyer().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'model_not_found' && /this offer serves "tiny"/.test(e.message))
  await assert.rejects(buyer().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 201 }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /at most 200 tokens/.test(e.message))
  const res = await fetch(`${baseURL}/chat/completions`, { method: 'POST', body: '{"model": "tiny", ' })
  assert.equal(res.status, 400)
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_json')
  assert.equal(settled.length, n)
})

test('the remote-upstream prompt estimate is never below the real tokenizer count', async () => {
  const prompts = ['hi', 'the water is hot', 'Ünïcödé ✓ 日本語 🙂', 'a'.repeat(300), 'what is the number of people who can write?']
  for (const content of prompts) {
    const body = { model: MODEL, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content }] }
    const v = validateRequest('chat', JSON.stringify(body), { model: MODEL, maxTokens: 10 })
    assert.ok(v.ok)
    assert.ok(estimatePromptTokens(v.request) >= rt.countPromptTokens(v.request), content)
  }
})
