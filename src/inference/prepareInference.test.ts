import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toAtomic } from '../offer/price.ts'
import type { ResolvedPrice } from '../offer/resolveOffer.ts'
import { estimatePromptTokens } from './metering.ts'
import { prepareInference, type InferencePricing } from './prepareInference.ts'

const price: ResolvedPrice = { unit: 'perMTok', decimal: '3', atomic: toAtomic('3', 6) } // 3 atomic units per token
const pricing: InferencePricing = { model: 'm', maxTokens: 100, price }
const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }], ...extra })
const enc = (s: string) => new TextEncoder().encode(s)

test('invalid bodies come back as the OpenAI 400, with no amount', () => {
  const p = prepareInference('chat', chat({ model: 'other' }), pricing)
  assert.equal(p.ok, false)
  assert.ok(!p.ok && p.status === 400 && p.body.error.code === 'model_not_found')
})

test('the maximum uses the exact counter when there is one, else the upper-bound estimate', () => {
  const exact = prepareInference('chat', chat({ max_tokens: 10 }), { ...pricing, countPromptTokens: () => 7 })
  assert.ok(exact.ok)
  assert.equal(exact.promptTokens, 7)
  assert.equal(exact.maxAmount, (7n + 10n) * 3n)
  const estimated = prepareInference('chat', chat(), pricing)
  assert.ok(estimated.ok)
  assert.equal(estimated.promptTokens, estimatePromptTokens(estimated.request))
  assert.equal(estimated.maxAmount, BigInt(estimated.promptTokens + 100) * 3n)
  assert.equal(estimated.upstreamPath, '/v1/chat/completions')
  assert.equal(JSON.parse(estimated.upstreamBody).max_tokens, 100)
})

test('JSON responses: usage settles upto; exact pays the maximum; abandoned pays nothing', () => {
  const p = prepareInference('chat', chat({ max_tokens: 10 }), { ...pricing, countPromptTokens: () => 7 })
  assert.ok(p.ok)
  const body = JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'hi' } }], usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 } })
  const m = p.meter()
  assert.deepEqual(m.push(enc(body.slice(0, 20))), enc(body.slice(0, 20)))
  m.push(enc(body.slice(20)))
  assert.equal(m.flush().length, 0)
  assert.deepEqual(m.settle('upto', true), { usage: { promptTokens: 7, completionTokens: 4 }, amount: 33n })
  assert.equal(m.settle('exact', true).amount, 51n)
  assert.equal(m.settle('upto', false).amount, 0n)
  assert.equal(m.settle('exact', false).amount, 0n)
})

test('JSON responses without usage: completion counted as its UTF-8 bytes, capped at max_tokens', () => {
  const p = prepareInference('completion', JSON.stringify({ model: 'm', prompt: 'x', max_tokens: 5 }), { ...pricing, countPromptTokens: () => 2 })
  assert.ok(p.ok)
  const short = p.meter()
  short.push(enc(JSON.stringify({ choices: [{ text: 'abc' }] })))
  assert.deepEqual(short.settle('upto', true).usage, { promptTokens: 2, completionTokens: 3 })
  const long = p.meter()
  long.push(enc(JSON.stringify({ choices: [{ text: 'abcdefgh' }] })))
  assert.deepEqual(long.settle('upto', true), { usage: { promptTokens: 2, completionTokens: 5 }, amount: 21n })
})

test('streams: the buyer who did not ask for usage gets none; an abandoned stream pays for delivered tokens', () => {
  const p = prepareInference('chat', chat({ stream: true, max_tokens: 50 }), { ...pricing, countPromptTokens: () => 7 })
  assert.ok(p.ok)
  assert.deepEqual(JSON.parse(p.upstreamBody).stream_options, { include_usage: true })
  const m = p.meter()
  const out = [
    m.push(enc('data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\ndata: {"choices":[{"index":0,"delta":{"content":"b"},"finish_')),
    m.push(enc('reason":null}]}\n\n')),
  ].map((b) => new TextDecoder().decode(b)).join('')
  assert.equal(out.split('\n\n').filter(Boolean).length, 2)
  assert.deepEqual(m.settle('upto', false), { usage: { promptTokens: 7, completionTokens: 2 }, amount: 27n })
  assert.equal(m.settle('exact', false).amount, 0n)
  const rest = new TextDecoder().decode(m.push(enc('data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\ndata: [DONE]\n\n')))
  assert.equal(rest, 'data: [DONE]\n\n')
  assert.deepEqual(m.settle('upto', true), { usage: { promptTokens: 7, completionTokens: 3 }, amount: 30n })
})
