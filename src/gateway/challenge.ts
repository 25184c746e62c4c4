/**
 * The 402 challenge, compiled once per route when routes are set; its wire JSON at the route's first 402 (most
 * routes of a big stack never answer one: 10,000 offers' worth is ~9 MB and ~100 ms of a first pass). Per
 * request only the resource URL is spliced into that precomputed JSON and the v2 header is base64-encoded.
 *
 * Wire shapes: the `PAYMENT-REQUIRED` header carries x402 v2 (CAIP-2 network, `amount`); the JSON body is
 * v1-shaped (`maxAmountRequired`, v1 network name where one exists) so x402 v1 clients can pay too.
 */
import type { ServerResponse } from 'node:http'
import type { PaymentRequired, PaymentRequirements, PaymentRequirementsV1 } from '@x402/core/types'
import { EVM_NETWORK_CHAIN_ID_MAP } from '@x402/evm/v1'
import type { ResolvedOffer, ResolvedPrice, ResolvedRoute } from '../offer/resolveOffer.ts'

export const DEFAULT_CHALLENGE_ERROR = 'Payment required'

/** A v1 accepts entry as it goes on the wire (v1 network names are not CAIP-2; outputSchema is {}: x402-fetch 1.x rejects null). */
export type V1Requirements = Omit<PaymentRequirementsV1, 'network' | 'outputSchema'> & { network: string; outputSchema: Record<string, never> }

export type Challenge = {
  /** v2 accepts entries (no resource: v2 keeps it at the top level). */
  accepts: PaymentRequirements[]
  description: string
  mimeType: string
  /** For the v1 network name of custom accepts. */
  chainId: number
  /** Precomputed JSON split around the resource URL (see wireParts). */
  wire?: { v2: string[]; v1: string[] }
}

/** Page renderer for browsers (Accept: text/html) asking a paid route without paying. */
export type PaymentPageInfo = { paymentRequired: PaymentRequired; offerKey: string; resolved: ResolvedOffer; url: string }
export type RenderPaymentPage = (info: PaymentPageInfo) => string

const V1_NAME_BY_CHAIN_ID = new Map<number, string>(Object.entries(EVM_NETWORK_CHAIN_ID_MAP).map(([name, id]) => [id, name]))

/** x402 v1 network name for a chain, or its CAIP-2 id when v1 has no name for it (e.g. the dev chain 31337). */
export function v1NetworkName(chainId: number, caip2: string): string {
  return V1_NAME_BY_CHAIN_ID.get(chainId) ?? caip2
}

/**
 * Atomic amount of the route's precompiled challenge. perRequest: the price. perMTok: the price of
 * model.maxTokens tokens, rounded up; inference routes never send it: their 402 carries the maximum of the
 * request's own body (prompt + max_tokens, see gateway/inference.ts and payments/meteredGate.ts).
 */
export function requestAmount(price: ResolvedPrice, resolved: ResolvedOffer): bigint {
  if (price.unit === 'perRequest') return price.atomic
  const maxTokens = BigInt(resolved.offer.spec.model?.maxTokens ?? 1024)
  return (price.atomic * maxTokens + 999_999n) / 1_000_000n
}

const URL_MARK = '\u0000resource-url\u0000'
const URL_MARK_JSON = JSON.stringify(URL_MARK)

function split(value: unknown): string[] {
  return JSON.stringify(value).split(URL_MARK_JSON)
}

export function compileChallenge(resolved: ResolvedOffer, route: ResolvedRoute | undefined, price: ResolvedPrice): Challenge {
  const { offer, chain, asset } = resolved
  const pay = offer.spec.payment
  const description = route?.summary ?? offer.spec.description ?? offer.spec.registration.description ?? `Paid access to ${resolved.key}`
  const mimeType = 'application/json'
  const extra: Record<string, unknown> = { name: asset.eip712Name, version: asset.eip712Version }
  if (asset.transferMethod === 'permit2') extra['assetTransferMethod'] = 'permit2'
  const amount = requestAmount(price, resolved).toString()
  const accepts: PaymentRequirements[] = [{
    scheme: pay.scheme, network: chain.caip2, amount, asset: asset.address, payTo: pay.payTo,
    maxTimeoutSeconds: pay.maxTimeoutSeconds, extra,
  }]
  return { accepts, description, mimeType, chainId: chain.chainId }
}

function wireParts(c: Challenge): { v2: string[]; v1: string[] } {
  return c.wire ??= {
    v2: split(paymentRequiredFor(c, URL_MARK)),
    v1: split({ x402Version: 1, error: DEFAULT_CHALLENGE_ERROR, accepts: paymentRequirementsV1For(c, URL_MARK) }),
  }
}

function v1Accepts(accepts: PaymentRequirements[], url: string, description: string, mimeType: string, chainId: number): V1Requirements[] {
  return accepts.map((a) => ({
    scheme: a.scheme, network: v1NetworkName(chainId, a.network), maxAmountRequired: a.amount,
    resource: url, description, mimeType, outputSchema: {}, payTo: a.payTo,
    maxTimeoutSeconds: a.maxTimeoutSeconds, asset: a.asset, extra: a.extra,
  }))
}

/** The v2 PaymentRequired for one request (resource filled); `accepts` replaces the route's (e.g. a request-specific amount). */
export function paymentRequiredFor(c: Challenge, url: string, error = DEFAULT_CHALLENGE_ERROR, accepts = c.accepts): PaymentRequired {
  return { x402Version: 2, error, resource: { url, description: c.description, mimeType: c.mimeType }, accepts }
}

/** The v1 accepts entries for one request (resource filled), for gates that take X-PAYMENT. */
export function paymentRequirementsV1For(c: Challenge, url: string): V1Requirements[] {
  return v1Accepts(c.accepts, url, c.description, c.mimeType, c.chainId)
}

const toBase64 = (json: string) => Buffer.from(json, 'utf8').toString('base64')

export type ChallengeOptions = {
  error?: string | undefined
  /** Fields merged into the JSON body (e.g. a machine-readable reason). */
  extra?: Record<string, unknown> | undefined
  /** Requirements replacing the route's precomputed ones (e.g. an amount computed from the request). */
  accepts?: PaymentRequirements[] | undefined
  html?: { render: RenderPaymentPage; offerKey: string; resolved: ResolvedOffer } | undefined
}

/** Write the 402: PAYMENT-REQUIRED (v2) header, v1-shaped JSON body (or an HTML page for browsers). */
export function writeChallenge(res: ServerResponse, c: Challenge, url: string, opts?: ChallengeOptions): void {
  if (res.headersSent) { res.destroy(); return }
  const error = opts?.error ?? DEFAULT_CHALLENGE_ERROR
  let header: string
  let body: string
  if (!opts?.error && !opts?.extra && !opts?.accepts) {
    const quoted = JSON.stringify(url)
    const wire = wireParts(c)
    header = toBase64(wire.v2.join(quoted))
    body = wire.v1.join(quoted)
  } else {
    const accepts = opts.accepts ?? c.accepts
    header = toBase64(JSON.stringify(paymentRequiredFor(c, url, error, accepts)))
    body = JSON.stringify({ ...opts.extra, x402Version: 1, error, accepts: v1Accepts(accepts, url, c.description, c.mimeType, c.chainId) })
  }
  let contentType = 'application/json; charset=utf-8'
  if (opts?.html) {
    body = opts.html.render({ paymentRequired: paymentRequiredFor(c, url, error, opts.accepts), offerKey: opts.html.offerKey, resolved: opts.html.resolved, url })
    contentType = 'text/html; charset=utf-8'
  }
  res.writeHead(402, {
    'payment-required': header,
    'cache-control': 'no-store',
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'access-control-expose-headers': 'PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE',
  })
  res.end(body)
}
