import { test } from 'node:test'
import assert from 'node:assert/strict'
import { estimatePromptTokens, maxAuthorization, maxCompletionTokens } from '../inference/metering.ts'
import { validateRequest, type InferenceKind } from '../inference/validateRequest.ts'
import { maxTokensFromProbe, MESSAGE_ALLOWANCE_TOKENS, perTokenBound, PROMPT_ALLOWANCE_TOKENS } from './perTokenBound.ts'

const PER_MTOK = 100_000_000n // 100 USDC per million tokens: 100 atomic units per token
const LIMIT = 200 // the seller's max_tokens limit
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))
const path = (kind: InferenceKind) => ({ chat: '/v1/chat/completions', completion: '/v1/completions', embedding: '/v1/embeddings' })[kind]

test('the bound: body bytes + allowances, max_tokens from the request or the recorded limit, rounded up', () => {
  const body = enc({ model: 'tiny', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'héllo 🌍' }], max_tokens: 20 })
  const b = perTokenBound({ body, path: '/services/llm/v1/chat/completions', perMTok: PER_MTOK, defaultMaxTokens: LIMIT })
  assert.ok(b.ok)
  assert.equal(b.promptTokens, body.length + 2 * MESSAGE_ALLOWANCE_TOKENS + PROMPT_ALLOWANCE_TOKENS)
  assert.equal(b.maxTokens, 20)
  assert.equal(b.amount, BigInt(b.promptTokens + 20) * 100n)

  const cheap = perTokenBound({ body, path: '/v1/chat/completions', perMTok: 150_000n, defaultMaxTokens: LIMIT }) // 0.15 per MTok
  assert.ok(cheap.ok)
  assert.equal(cheap.amount, (BigInt(cheap.promptTokens + 20) * 150_000n + 999_999n) / 1_000_000n, 'rounded up like the seller')

  const noMax = perTokenBound({ body: enc({ model: 'tiny', messages: [{ role: 'user', content: 'x' }] }), path: '/v1/chat/completions', perMTok: PER_MTOK, defaultMaxTokens: LIMIT })
  assert.ok(noMax.ok && noMax.maxTokens === LIMIT, 'the recorded limit when the request sets none')
  const both = perTokenBound({ body: enc({ messages: [], max_tokens: 5, max_completion_tokens: 50 }), path: '/v1/chat/completions', perMTok: PER_MTOK, defaultMaxTokens: LIMIT })
  assert.ok(both.ok && both.maxTokens === 50, 'the larger of max_tokens and max_completion_tokens')
  const bad = perTokenBound({ body: enc({ messages: [], max_tokens: '50' }), path: '/v1/chat/completions', perMTok: PER_MTOK, defaultMaxTokens: LIMIT })
  assert.ok(bad.ok && bad.maxTokens === LIMIT, 'an unusable max_tokens counts as none')
  const emb = perTokenBound({ body: enc({ input: ['a', 'b', 'c'] }), path: '/v1/embeddings', perMTok: PER_MTOK, defaultMaxTokens: LIMIT })
  assert.ok(emb.ok && emb.maxTokens === 0 && emb.promptTokens === enc({ input: ['a', 'b', 'c'] }).length + 3 * MESSAGE_ALLOWANCE_TOKENS + PROMPT_ALLOWANCE_TOKENS)
  const raw = perTokenBound({ body: new TextEncoder().encode('not json'), path: '/x', perMTok: PER_MTOK, defaultMaxTokens: LIMIT })
  assert.ok(raw.ok && raw.promptTokens === 8 + MESSAGE_ALLOWANCE_TOKENS + PROMPT_ALLOWANCE_TOKENS, 'a body that is not JSON still counts its bytes')

  assert.deepEqual(perTokenBound({ body: enc({ messages: [{ role: 'user', content: 'x' }] }), path: '/v1/chat/completions', perMTok: PER_MTOK, defaultMaxTokens: undefined }),
    { ok: false, reason: 'max_tokens_unknown' })
})

// What a Vend seller asks (src/inference: validateRequest + estimatePromptTokens + maxAuthorization) must always fit
// the buyer's bound at the same price: the bound never refuses an honest Vend seller.
const honest: [string, InferenceKind, Record<string, unknown>][] = [
  ['one short message', 'chat', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }],
  ['no max_tokens: the seller\'s limit', 'chat', { messages: [{ role: 'user', content: 'ping' }] }],
  ['many empty messages', 'chat', { messages: Array.from({ length: 50 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: '' })), max_tokens: 3 }],
  ['names, content parts, null assistant content', 'chat', { messages: [{ role: 'user', name: 'ann', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }, { role: 'assistant', content: null }, { role: 'tool', content: '{}' }] }],
  ['multi-byte text (3- and 4-byte UTF-8)', 'chat', { messages: [{ role: 'user', content: '日本語のテキスト🌍🌍🌍'.repeat(200) }], max_completion_tokens: 150 }],
  ['tools and response_format', 'chat', { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { n: { type: 'number', maximum: 1e21 } } } } }], response_format: { type: 'json_object' }, tool_choice: 'auto', max_tokens: 10 }],
  ['a long prompt', 'chat', { messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'lorem ipsum '.repeat(2000) }], max_tokens: 200, stream: true, stream_options: { include_usage: true } }],
  ['text completion', 'completion', { prompt: 'Once upon a time', max_tokens: 64 }],
  ['embeddings', 'embedding', { input: ['alpha', 'beta', 'ünïcödé'] }],
]
for (const [name, kind, fields] of honest) {
  test(`a Vend seller's maximum fits the bound: ${name}`, () => {
    const body = enc({ model: 'tiny', ...fields })
    const v = validateRequest(kind, Buffer.from(body), { model: 'tiny', maxTokens: LIMIT })
    assert.ok(v.ok, JSON.stringify(v))
    for (const perMTok of [PER_MTOK, 150_000n, 1n]) {
      const asked = maxAuthorization({ unit: 'perMTok', decimal: '', atomic: perMTok }, estimatePromptTokens(v.request), maxCompletionTokens(v.request))
      const b = perTokenBound({ body, path: path(kind), perMTok, defaultMaxTokens: LIMIT })
      assert.ok(b.ok && asked <= b.amount, `the seller asks ${asked}, the bound is ${b.ok ? b.amount : b.reason} at ${perMTok}`)
    }
  })
}

test('a doubled per-token price is above the bound for a prompt of a few hundred bytes or more', () => {
  for (const size of [300, 2000, 50_000]) {
    const body = enc({ model: 'tiny', messages: [{ role: 'user', content: 'x'.repeat(size) }], max_tokens: 100 })
    const v = validateRequest('chat', Buffer.from(body), { model: 'tiny', maxTokens: LIMIT })
    assert.ok(v.ok)
    const asked = maxAuthorization({ unit: 'perMTok', decimal: '', atomic: 2n * PER_MTOK }, estimatePromptTokens(v.request), maxCompletionTokens(v.request))
    const b = perTokenBound({ body, path: '/v1/chat/completions', perMTok: PER_MTOK, defaultMaxTokens: LIMIT })
    assert.ok(b.ok && asked > b.amount, `size ${size}: asked ${asked}, bound ${b.ok ? b.amount : '-'}`)
  }
})

test('the seller\'s completion limit from a probe\'s maximum: at least the limit, at most the limit + the probe\'s prompt', () => {
  for (const [perMTok, prompt, limit] of [[PER_MTOK, 49, 200], [150_000n, 49, 4096], [1n, 10, 1024], [3_000_000n, 60, 128_000]] as const) {
    const asked = (BigInt(prompt + limit) * perMTok + 999_999n) / 1_000_000n
    const got = maxTokensFromProbe(asked, perMTok)!
    assert.ok(got >= limit && got <= limit + prompt + Number(1_000_000n / perMTok), `${perMTok}: ${got} for limit ${limit}`)
  }
  assert.equal(maxTokensFromProbe(5n, 0n), undefined, 'a free price tells nothing')
})
