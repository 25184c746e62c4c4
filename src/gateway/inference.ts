/**
 * The inference surface of an offer (spec.type inference) in front of the payment gate: GET /v1/models is
 * answered here, unknown paths get OpenAI-shaped 404/405s, the health path is forwarded free, and a paid
 * endpoint's body is read and checked by prepareInference before any 402 (a bad body is a 400, never a 402).
 * The prepared request (maximum amount, upstream path and body, response meter) travels to the payment gate
 * on the context.
 */
import type { IncomingMessage } from 'node:http'
import type { InferencePricing, PreparedInference } from '../inference/prepareInference.ts'
import { prepareInference } from '../inference/prepareInference.ts'
import type { InvalidRequest } from '../inference/validateRequest.ts'
import type { PaymentRequirements } from '@x402/core/types'
import type { CompiledRoute } from './routeTable.ts'

/** Default and limit of max_tokens when the offer sets none. */
export const DEFAULT_MAX_TOKENS = 1024

/** The pricing inputs of a route of an inference offer (exact prompt counter for embedded models). */
export function pricingFor(route: CompiledRoute): InferencePricing {
  const entry = route.offer.entry
  const model = route.offer.resolved.offer.spec.model
  return {
    model: model?.name ?? '', maxTokens: model?.maxTokens ?? DEFAULT_MAX_TOKENS, price: route.price,
    ...(entry.inference?.countPromptTokens ? { countPromptTokens: entry.inference.countPromptTokens } : {}),
    ...(entry.inference?.continuousUsage ? { continuousUsage: true } : {}),
  }
}

/** The upstream's path for an inference endpoint: the base path without a trailing /v1 (as apiBase) + the endpoint. */
export function inferenceUpstreamPath(basePath: string, endpoint: string): string {
  return basePath.replace(/\/+$/, '').replace(/\/v1$/, '') + endpoint
}

export type ReadBody = { ok: true; body: Buffer } | { ok: false; tooLarge: boolean }

/** Read a request body up to `max` bytes (ok:false when larger, or when the client went away). */
export function readBody(req: IncomingMessage, max: number): Promise<ReadBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (r: ReadBody) => { req.off('data', onData); req.off('end', onEnd); req.off('error', onError); req.off('close', onClose); resolve(r) }
    const onData = (c: Buffer) => {
      size += c.length
      if (size > max) { done({ ok: false, tooLarge: true }); req.resume(); return }
      chunks.push(c)
    }
    const onEnd = () => done({ ok: true, body: Buffer.concat(chunks) })
    const onError = () => done({ ok: false, tooLarge: false })
    const onClose = () => { if (!req.complete) done({ ok: false, tooLarge: false }) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** Validate and price one request body for a paid inference endpoint (bodies above the inference limit: 413). */
export function prepare(route: CompiledRoute, kind: Parameters<typeof prepareInference>[0], body: Buffer): PreparedInference | InvalidRequest {
  return prepareInference(kind, body, pricingFor(route))
}

/**
 * The `exact` requirements for one request when no payment gate computes them: the route's, with the amount
 * this request may cost.
 */
export function exactAccepts(route: CompiledRoute, maxAmount: bigint): PaymentRequirements[] {
  return route.challenge!.accepts.map((a) => ({ ...a, scheme: 'exact', amount: maxAmount.toString() }))
}
