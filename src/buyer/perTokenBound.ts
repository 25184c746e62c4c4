/**
 * The most a per-token (perMTok) seller may ask for one request, computed by the buyer from the request it sends
 * and the per-token price recorded by `vend buy add`. A seller's 402 for a per-token offer asks a maximum
 * (upto, and the exact fallback) from the request's prompt and max_tokens; the buyer checks that maximum against
 *
 *   bound = ceil((B + M) x perMTok / 1e6)   atomic units
 *
 * B, prompt tokens: UTF-8 bytes of the whole JSON request body
 *   + MESSAGE_ALLOWANCE_TOKENS per message (chat), prompt or input (completions, embeddings)
 *   + PROMPT_ALLOWANCE_TOKENS.
 *   Every text the seller's model reads (role, content, name, tools, response_format, ...) is a value inside the
 *   body, and its UTF-8 bytes appear in the body's JSON at least once (JSON escapes only lengthen a string).
 *   Byte-level BPE tokenizers (GPT-2/4o, Llama 3, Qwen, Mistral Tekken) and SentencePiece with byte fallback
 *   (Llama 2, Mistral, Gemma) make at most one token per byte; SentencePiece's dummy-prefix space (one token per
 *   text) is covered by the two quote bytes around every JSON string. What the body cannot show is the chat
 *   template's own tokens (role headers, turn separators, a default system prompt): common templates (ChatML,
 *   Llama 3, Mistral, Gemma) add <= 6 per message and <= 30 in all, below the allowances, which are also the
 *   overheads of Vend sellers' own estimate (src/inference/metering.ts), so an honest Vend seller always fits.
 * M, completion tokens: the request's max_completion_tokens / max_tokens (the larger when both are given);
 *   without one, the seller's limit recorded by `vend buy add` (spec.payment.maxTokens); embeddings produce none.
 *
 * Guarantee: the buyer never authorises more than the recorded per-token price applied to B + M tokens. The
 * bound has slack (JSON syntax and the non-prompt fields count as prompt), so a seller that raised its per-token
 * price is refused once the new price pushes its ask past the bound; a raise small enough to fit on a short
 * request costs at most the bound.
 */
import { mulDivCeil } from '../offer/price.ts'

export const MESSAGE_ALLOWANCE_TOKENS = 8
export const PROMPT_ALLOWANCE_TOKENS = 32

export type PerTokenBoundParameters = {
  /** The request body as sent to the seller (JSON for OpenAI-compatible calls). */
  body: Uint8Array | undefined
  /** The seller URL's path: /embeddings produce no completion tokens. */
  path: string
  /** The recorded price, atomic units per million tokens. */
  perMTok: bigint
  /** The seller's completion limit recorded at add time, used when the request sets no max_tokens. */
  defaultMaxTokens: number | undefined
}

export type PerTokenBound =
  | { ok: true; promptTokens: number; maxTokens: number; amount: bigint }
  /** The request sets no max_tokens and the seller's limit is not recorded: nothing bounds the completion. */
  | { ok: false; reason: 'max_tokens_unknown' }

const MILLION = 1_000_000n

export function perTokenBound({ body, path, perMTok, defaultMaxTokens }: PerTokenBoundParameters): PerTokenBound {
  const bytes = body?.length ?? 0
  let json: Record<string, unknown> = {}
  if (bytes) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(body!.buffer, body!.byteOffset, body!.byteLength).toString('utf8'))
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>
    } catch { /* not JSON: the bytes still bound the tokens */ }
  }
  const texts = [json['messages'], json['prompt'], json['input']].reduce<number>((n, v) => n + (Array.isArray(v) ? v.length : v === undefined ? 0 : 1), 0)
  const promptTokens = bytes + MESSAGE_ALLOWANCE_TOKENS * Math.max(texts, 1) + PROMPT_ALLOWANCE_TOKENS

  let maxTokens: number | undefined
  if (/\/embeddings\/?$/.test(path)) maxTokens = 0
  else {
    const given = [json['max_completion_tokens'], json['max_tokens']].filter((v): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0)
    maxTokens = given.length ? Math.max(...given) : defaultMaxTokens
  }
  if (maxTokens === undefined) return { ok: false, reason: 'max_tokens_unknown' }
  return { ok: true, promptTokens, maxTokens, amount: mulDivCeil(BigInt(promptTokens) + BigInt(maxTokens), perMTok, MILLION) }
}

/**
 * The seller's completion limit, from the 402 of a probe that set no max_tokens (so the seller applied its
 * limit): the probe asked ceil((prompt + limit) x perMTok / 1e6), so limit <= floor(asked x 1e6 / perMTok).
 * An upper bound (it includes the probe's few prompt tokens); undefined for a free per-token price.
 */
export function maxTokensFromProbe(asked: bigint, perMTok: bigint): number | undefined {
  if (perMTok <= 0n) return undefined
  const tokens = (asked * MILLION) / perMTok
  return tokens > 0n && tokens <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(tokens) : undefined
}
