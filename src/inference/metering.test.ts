import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { ResolvedPrice } from '../offer/resolveOffer.ts'
import { toAtomic } from '../offer/price.ts'
import {
  MESSAGE_OVERHEAD_TOKENS, PROMPT_OVERHEAD_TOKENS, chargeFor, estimatePromptTokens, maxAuthorization, meteredCost, parseUsage,
} from './metering.ts'
import { validateRequest, type ChatRequest } from './validateRequest.ts'

const perMTok = (decimal: string, decimals = 6): ResolvedPrice => ({ unit: 'perMTok', decimal, atomic: toAtomic(decimal, decimals) })
const perRequest = (decimal: string): ResolvedPrice => ({ unit: 'perRequest', decimal, atomic: toAtomic(decimal, 6) })

test('perMTok: the maximum and the charge are (tokens x price / 1e6) rounded up to an atomic unit', () => {
  const price = perMTok('0.5') // 500000 atomic per million tokens = 0.5 atomic per token
  assert.equal(maxAuthorization(price, 100, 28), 64n) // 128 tokens * 0.5
  assert.equal(maxAuthorization(price, 100, 27), 64n) // 63.5 -> 64
  assert.equal(meteredCost(price, { promptTokens: 1, completionTokens: 0 }), 1n) // 0.5 -> 1
  assert.equal(meteredCost(price, { promptTokens: 0, completionTokens: 0 }), 0n)
  assert.equal(meteredCost(perMTok('2.5'), { promptTokens: 123_456, completionTokens: 7 }), 308_658n) // 308657.5 -> 308658
  assert.equal(meteredCost(perMTok('1', 18), { promptTokens: 3, completionTokens: 0 }), 3_000_000_000_000n)
})

test('perRequest: a fixed exact charge', () => {
  const price = perRequest('0.01')
  assert.equal(maxAuthorization(price, 10_000, 10_000), 10_000n)
  assert.equal(chargeFor(price, { promptTokens: 5, completionTokens: 5 }, 10_000n), 10_000n)
})

test('the charge never exceeds the authorised maximum, rounds up, and uses no floats (property)', () => {
  fc.assert(fc.property(
    fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.nat({ max: 2_000_000 }), fc.nat({ max: 100_000 }), fc.nat({ max: 100_000 }), fc.nat({ max: 3_000_000 }),
    (atomic, prompt, maxTokens, completion, actualPrompt) => {
      const price: ResolvedPrice = { unit: 'perMTok', decimal: 'n/a', atomic }
      const max = maxAuthorization(price, prompt, maxTokens)
      // Rounding up: max is the least integer with max * 1e6 >= tokens * price.
      const exact = BigInt(prompt + maxTokens) * atomic
      assert.ok(max * 1_000_000n >= exact && (max - 1n) * 1_000_000n < exact)
      const usage = { promptTokens: actualPrompt, completionTokens: completion }
      const charge = chargeFor(price, usage, max)
      assert.ok(charge <= max)
      assert.equal(typeof charge, 'bigint')
      // Within the authorised token count the charge is the metered cost itself.
      if (actualPrompt <= prompt && completion <= maxTokens) assert.equal(charge, meteredCost(price, usage))
    }), { numRuns: 500 })
})

test('the prompt estimate is never below the byte count of what the model reads', () => {
  fc.assert(fc.property(fc.array(fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: fc.string({ unit: 'grapheme' }) }), { minLength: 1, maxLength: 8 }), (messages) => {
    const v = validateRequest('chat', JSON.stringify({ model: 'm', messages }), { model: 'm', maxTokens: 16 })
    assert.ok(v.ok)
    const bytes = messages.reduce((n, m) => n + Buffer.byteLength(m.content) + Buffer.byteLength(m.role), 0)
    assert.equal(estimatePromptTokens(v.request), PROMPT_OVERHEAD_TOKENS + messages.length * MESSAGE_OVERHEAD_TOKENS + bytes)
  }), { numRuns: 200 })
})

test('tools and response_format count toward the prompt estimate', () => {
  const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }
  const plain = validateRequest('chat', JSON.stringify(base), { model: 'm', maxTokens: 16 })
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }]
  const withTools = validateRequest('chat', JSON.stringify({ ...base, tools }), { model: 'm', maxTokens: 16 })
  assert.ok(plain.ok && withTools.ok)
  assert.equal(estimatePromptTokens(withTools.request) - estimatePromptTokens(plain.request), Buffer.byteLength(JSON.stringify(tools)))
  assert.equal((withTools.request as ChatRequest).extraPromptBytes, Buffer.byteLength(JSON.stringify(tools)))
})

test('parseUsage reads OpenAI usage and rejects nonsense', () => {
  assert.deepEqual(parseUsage({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }), { promptTokens: 3, completionTokens: 4 })
  assert.deepEqual(parseUsage({ prompt_tokens: 9, total_tokens: 9 }), { promptTokens: 9, completionTokens: 0 })
  for (const bad of [null, 'x', {}, { prompt_tokens: -1 }, { prompt_tokens: 1.5 }, { prompt_tokens: 1, completion_tokens: '2' }]) assert.equal(parseUsage(bad), undefined)
  assert.throws(() => meteredCost(perMTok('1'), { promptTokens: 0.5, completionTokens: 0 }), RangeError)
})
