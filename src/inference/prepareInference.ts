/**
 * One inference request from its body to the amount to settle: the seam the payment gate calls. Before any
 * payment is asked for, prepareInference validates the body (400, never 402), counts the prompt and computes
 * the maximum (the `upto` amount, and the `exact` fallback's fixed amount). The upstream body always carries
 * the completion limit, so the upstream can never produce more than was authorised. The response meter reads
 * the upstream's answer as it is forwarded and gives the amount to settle.
 */
import type { ResolvedPrice } from '../offer/resolveOffer.ts'
import { chargeFor, estimatePromptTokens, maxCompletionTokens, maxAuthorization, parseUsage, type TokenUsage } from './metering.ts'
import { createStreamMeter, streamUsage } from './streamUsage.ts'
import { upstreamRequestBody } from './upstream.ts'
import { INFERENCE_ENDPOINTS, validateRequest, type InferenceKind, type InferenceRequest, type InvalidRequest } from './validateRequest.ts'

export type InferencePricing = {
  /** spec.model.name: the only model accepted. */
  model: string
  /** spec.model.maxTokens: the limit on (and default of) max_tokens. */
  maxTokens: number
  /** The route's resolved price (perMTok or perRequest). */
  price: ResolvedPrice
  /** Exact prompt counter of an embedded model (EmbeddedModel.countPromptTokens); absent: the documented upper bound. */
  countPromptTokens?: (req: InferenceRequest) => number
  /** The upstream reports usage on every streamed chunk (embedded runtime, vLLM): abandoned streams meter exactly. */
  continuousUsage?: boolean
  maxBodyBytes?: number
}

export type SettlementScheme = 'upto' | 'exact'

export type ResponseMeter = {
  /** Feed every upstream body chunk; forward what it returns (usage chunks the buyer did not ask for are removed). */
  push(chunk: Uint8Array): Uint8Array
  /** Call when the upstream body ends; forward what it returns. */
  flush(): Uint8Array
  /**
   * Tokens used and the amount to settle. completed = the whole response reached the buyer.
   * upto: the metered cost, capped at the maximum; an abandoned stream pays for what was delivered, an
   * abandoned JSON response (nothing usable delivered) pays nothing. exact: the fixed maximum when completed,
   * nothing otherwise.
   */
  settle(scheme: SettlementScheme, completed: boolean): { usage: TokenUsage; amount: bigint }
}

export type PreparedInference = {
  ok: true
  request: InferenceRequest
  promptTokens: number
  /** The most this request may cost, in atomic units: the upto maximum and the exact fallback amount. */
  maxAmount: bigint
  /** Path to call on the upstream (append to its base URL without /v1, see upstream.ts apiBase). */
  upstreamPath: string
  /** JSON body to send upstream. */
  upstreamBody: string
  /** A meter for the upstream's response (one per attempt). */
  meter(): ResponseMeter
}

/** Largest non-streamed response body kept to read its usage. */
const MAX_JSON_RESPONSE_BYTES = 16 * 1024 * 1024

export function prepareInference(kind: InferenceKind, raw: Buffer | string, pricing: InferencePricing): PreparedInference | InvalidRequest {
  const v = validateRequest(kind, raw, { model: pricing.model, maxTokens: pricing.maxTokens, ...(pricing.maxBodyBytes ? { maxBodyBytes: pricing.maxBodyBytes } : {}) })
  if (!v.ok) return v
  const request = v.request
  const promptTokens = pricing.countPromptTokens ? pricing.countPromptTokens(request) : estimatePromptTokens(request)
  const maxTokens = maxCompletionTokens(request)
  const maxAmount = maxAuthorization(pricing.price, promptTokens, maxTokens)
  const stream = request.kind !== 'embedding' && request.stream
  const dropUsage = stream && !request.includeUsage

  const meter = (): ResponseMeter => {
    const sse = stream ? createStreamMeter({ dropUsage }) : undefined
    const json: Uint8Array[] = []
    let jsonBytes = 0
    const usage = (): TokenUsage => {
      if (sse) return streamUsage(sse.result(), promptTokens)
      const body = jsonBytes <= MAX_JSON_RESPONSE_BYTES ? Buffer.concat(json).toString('utf8') : ''
      return jsonUsage(body, promptTokens, maxTokens)
    }
    return {
      push(chunk) {
        if (sse) return sse.push(chunk)
        jsonBytes += chunk.length
        if (jsonBytes <= MAX_JSON_RESPONSE_BYTES) json.push(chunk)
        return chunk
      },
      flush: () => (sse ? sse.flush() : new Uint8Array(0)),
      settle(scheme, completed) {
        const u = usage()
        if (!completed && (scheme === 'exact' || !sse)) return { usage: u, amount: 0n }
        return { usage: u, amount: scheme === 'exact' ? maxAmount : chargeFor(pricing.price, u, maxAmount) }
      },
    }
  }

  return {
    ok: true, request, promptTokens, maxAmount,
    upstreamPath: INFERENCE_ENDPOINTS[kind],
    upstreamBody: upstreamRequestBody(request, pricing.continuousUsage ? { continuousUsage: true } : {}),
    meter,
  }
}

/**
 * Usage of a non-streamed response: the upstream's `usage`. Without it: the prompt tokens counted before the
 * request and, for the completion, the UTF-8 bytes of the generated text (an upper bound on its tokens, see
 * metering.ts) capped at max_tokens; an unreadable body counts max_tokens.
 */
function jsonUsage(body: string, promptTokens: number, maxTokens: number): TokenUsage {
  let json: unknown
  try { json = JSON.parse(body) } catch { return { promptTokens, completionTokens: maxTokens } }
  const reported = parseUsage((json as { usage?: unknown } | null)?.usage)
  if (reported) return reported
  const choices = (json as { choices?: unknown } | null)?.choices
  let bytes = 0
  for (const c of Array.isArray(choices) ? choices : []) {
    const text = (c as { text?: unknown })?.text ?? (c as { message?: { content?: unknown } })?.message?.content
    if (typeof text === 'string') bytes += Buffer.byteLength(text)
  }
  return { promptTokens, completionTokens: Math.min(bytes, maxTokens) }
}
