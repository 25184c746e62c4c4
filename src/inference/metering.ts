/**
 * Token metering: how many prompt tokens a request holds, the most it may cost (what the buyer authorises),
 * and what it actually costs from the upstream's usage. Money is bigint atomic units, rounded up, no floats.
 *
 * Prompt tokens. An embedded model counts them exactly with its own tokenizer and chat template
 * (EmbeddedModel.countPromptTokens). A remote upstream's tokenizer is unknown, so estimatePromptTokens gives an
 * upper bound:
 *   UTF-8 bytes of every text (content, role, name, tools/response_format JSON)
 *   + MESSAGE_OVERHEAD_TOKENS per message + PROMPT_OVERHEAD_TOKENS.
 * Why bytes bound the text's tokens: byte-level BPE (GPT-2/4o, Llama 3, Qwen, Mistral Tekken) and SentencePiece
 * with byte fallback (Llama 2, Mistral, Gemma) split the text into tokens that each cover at least one byte, so
 * a text of B bytes is at most B tokens; SentencePiece's dummy-prefix space adds at most one token per text,
 * which the role bytes of the same message already cover (every role is >= 3 bytes). (A SentencePiece model
 * that NFKC-normalises can expand a rare compatibility character, e.g. one 3-byte ligature into several
 * letters; the cap below covers such inputs.) What bytes cannot see is
 * the chat template's own tokens (role headers, turn separators, a default system prompt): common templates
 * (ChatML, Llama 3, Mistral, Gemma) add <= 6 tokens per message and <= 30 fixed, below the overheads used here.
 * A custom template may add more; the gateway therefore never charges above what the buyer authorised
 * (chargeFor caps at the authorised maximum), so an underestimate can only cost the seller, never the buyer.
 */
import { mulDivCeil } from '../offer/price.ts'
import type { ResolvedPrice } from '../offer/resolveOffer.ts'
import type { InferenceRequest } from './validateRequest.ts'

export type TokenUsage = { promptTokens: number; completionTokens: number }

export const MESSAGE_OVERHEAD_TOKENS = 8
export const PROMPT_OVERHEAD_TOKENS = 32

const MILLION = 1_000_000n

/** Upper bound on the prompt tokens of a request for an upstream whose tokenizer is unknown (see above). */
export function estimatePromptTokens(req: InferenceRequest): number {
  const bytes = (s: string) => Buffer.byteLength(s, 'utf8')
  switch (req.kind) {
    case 'chat': {
      let n = PROMPT_OVERHEAD_TOKENS + req.extraPromptBytes
      for (const m of req.messages) n += MESSAGE_OVERHEAD_TOKENS + bytes(m.role) + bytes(m.content) + (m.name ? bytes(m.name) : 0)
      return n
    }
    case 'completion':
      return PROMPT_OVERHEAD_TOKENS + bytes(req.prompt)
    case 'embedding':
      return req.input.reduce((n, s) => n + MESSAGE_OVERHEAD_TOKENS + bytes(s), 0)
  }
}

/** Completion tokens a request may produce: its max_tokens (embeddings produce none). */
export function maxCompletionTokens(req: InferenceRequest): number {
  return req.kind === 'embedding' ? 0 : req.maxTokens
}

/** The most a request may cost: perMTok ceil((prompt + maxTokens) * price / 1e6); perRequest the fixed price. */
export function maxAuthorization(price: ResolvedPrice, promptTokens: number, maxTokens: number): bigint {
  if (price.unit === 'perRequest') return price.atomic
  return mulDivCeil(tokens(promptTokens, 'promptTokens') + tokens(maxTokens, 'maxTokens'), price.atomic, MILLION)
}

/** What the usage costs: perMTok ceil((prompt + completion) * price / 1e6); perRequest the fixed price. */
export function meteredCost(price: ResolvedPrice, usage: TokenUsage): bigint {
  if (price.unit === 'perRequest') return price.atomic
  return mulDivCeil(tokens(usage.promptTokens, 'promptTokens') + tokens(usage.completionTokens, 'completionTokens'), price.atomic, MILLION)
}

/** The amount to settle: the metered cost, never more than the buyer authorised. */
export function chargeFor(price: ResolvedPrice, usage: TokenUsage, authorised: bigint): bigint {
  const cost = meteredCost(price, usage)
  return cost < authorised ? cost : authorised
}

/** OpenAI `usage` ({prompt_tokens, completion_tokens}; embeddings give only prompt_tokens) or undefined. */
export function parseUsage(value: unknown): TokenUsage | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const u = value as Record<string, unknown>
  const prompt = u['prompt_tokens']
  const completion = u['completion_tokens'] ?? 0
  if (!isCount(prompt) || !isCount(completion)) return undefined
  return { promptTokens: prompt, completionTokens: completion }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function tokens(n: number, what: string): bigint {
  if (!isCount(n)) throw new RangeError(`${what} must be a non-negative integer, got ${n}`)
  return BigInt(n)
}
