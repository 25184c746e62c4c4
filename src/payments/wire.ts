/**
 * Payment headers on the wire: decode PAYMENT-SIGNATURE (v2) or X-PAYMENT (v1), match the payload against this
 * request's requirements, encode the receipt. Pure; every refusal is a value with an x402-style reason.
 */
import { decodePaymentSignatureHeader, encodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from '@x402/core/types'
import type { V1Requirements } from '../gateway/createGateway.ts'
import { refusal, type Refusal } from './reasons.ts'

export type Authorization = { from: string; to: string; value: string; validAfter: string; validBefore: string; nonce: string }

export type MatchedPayment = {
  version: 1 | 2
  /** The payload as the facilitator takes it (v1 or v2 shape). */
  payload: PaymentPayload
  /** The requirements the payload is verified and settled against (v1 shape for v1 payloads). */
  requirements: PaymentRequirements
  /** The v2 requirements entry it matched (CAIP-2 network, `amount`). */
  accepted: PaymentRequirements
  auth: Authorization
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/
const ADDR = /^0x[0-9a-fA-F]{40}$/
const UINT = /^\d{1,78}$/

function parseAuthorization(payload: unknown): Authorization | undefined {
  const p = payload as { authorization?: Record<string, unknown>; signature?: unknown } | undefined
  const a = p?.authorization
  if (!a || typeof p?.signature !== 'string' || !/^0x[0-9a-fA-F]+$/.test(p.signature)) return undefined
  const s = (k: string) => (typeof a[k] === 'string' || typeof a[k] === 'number' ? String(a[k]) : '')
  const auth = { from: s('from'), to: s('to'), value: s('value'), validAfter: s('validAfter'), validBefore: s('validBefore'), nonce: s('nonce') }
  if (!ADDR.test(auth.from) || !ADDR.test(auth.to) || !UINT.test(auth.value) || !UINT.test(auth.validAfter) || !UINT.test(auth.validBefore) || !HEX32.test(auth.nonce)) return undefined
  return auth
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

/**
 * Decode a payment header and match it to one of `required.accepts` (`requirementsV1` is the same list in v1
 * shape, index for index, as the gateway puts it in the 402 body).
 */
export function matchPayment(
  payment: { version: 1 | 2; header: string },
  required: PaymentRequired,
  requirementsV1: readonly V1Requirements[],
): { ok: true; payment: MatchedPayment } | { ok: false; refusal: Refusal } {
  const { version } = payment
  let decoded: PaymentPayload
  try {
    decoded = version === 2
      ? decodePaymentSignatureHeader(payment.header)
      : JSON.parse(Buffer.from(payment.header, 'base64').toString('utf8')) as PaymentPayload
  } catch {
    return { ok: false, refusal: refusal('invalid_payload', `The ${version === 2 ? 'PAYMENT-SIGNATURE' : 'X-PAYMENT'} header is not base64-encoded JSON.`) }
  }
  if (!decoded || typeof decoded !== 'object' || decoded.x402Version !== version) {
    return { ok: false, refusal: refusal('invalid_x402_version', `The payment header carries x402Version ${String((decoded as { x402Version?: unknown } | null)?.x402Version)}, expected ${version}.`) }
  }
  const auth = parseAuthorization(decoded.payload)
  if (!auth) return { ok: false, refusal: refusal('invalid_payload', 'The payment payload has no valid EIP-3009 authorization and signature.') }

  // where the client says it pays: v2 echoes the requirements in `accepted`; v1 names scheme and network
  const v1 = decoded as unknown as { scheme?: unknown; network?: unknown }
  const claimed = (version === 2 ? decoded.accepted : { scheme: v1.scheme, network: v1.network }) as Partial<PaymentRequirements> | undefined
  if (!claimed || typeof claimed !== 'object') return { ok: false, refusal: refusal('invalid_payload', 'The payment payload does not say which requirements it accepts.') }
  if (claimed.scheme !== 'exact') return { ok: false, refusal: refusal('invalid_exact_evm_scheme', `Only the "exact" scheme is accepted here, not "${String(claimed.scheme)}".`) }

  const networks = version === 2 ? required.accepts.map((r) => r.network as string) : requirementsV1.map((r) => r.network)
  const onNetwork = required.accepts.filter((_, i) => networks[i] === claimed.network)
  if (!onNetwork.length) {
    return { ok: false, refusal: refusal('invalid_exact_evm_network_mismatch', `The payment is for network ${String(claimed.network)}, but this route takes ${[...new Set(networks)].join(', ')}.`) }
  }
  const req = version === 2 ? onNetwork.find((r) => same(r.asset, String(claimed.asset ?? ''))) : onNetwork[0]
  if (!req) return { ok: false, refusal: refusal('invalid_exact_evm_asset_mismatch', `The payment is in asset ${String(claimed.asset)}, but this route takes ${onNetwork.map((r) => r.asset).join(', ')}.`) }
  if (!same(auth.to, req.payTo) || (version === 2 && !same(String(claimed.payTo ?? ''), req.payTo))) {
    return { ok: false, refusal: refusal('invalid_exact_evm_recipient_mismatch', `The payment goes to ${auth.to}, but this route is paid to ${req.payTo}.`) }
  }
  if (BigInt(auth.value) !== BigInt(req.amount) || (version === 2 && String(claimed.amount) !== req.amount)) {
    return { ok: false, refusal: refusal('invalid_exact_evm_payload_authorization_value_mismatch', `The payment authorises ${auth.value} atomic units, but the price is exactly ${req.amount}.`) }
  }
  if (version === 2) return { ok: true, payment: { version, payload: decoded, requirements: req, accepted: req, auth } }
  const v1req = requirementsV1[required.accepts.indexOf(req)]!
  return { ok: true, payment: { version, payload: decoded, requirements: v1req as unknown as PaymentRequirements, accepted: req, auth } }
}

/** The receipt header for the version the buyer paid with. */
export function receiptHeader(version: 1 | 2, settle: SettleResponse): [string, string] {
  const body = { success: settle.success, transaction: settle.transaction, network: settle.network, ...(settle.payer ? { payer: settle.payer } : {}), ...(settle.errorReason ? { errorReason: settle.errorReason } : {}) } as SettleResponse
  return [version === 2 ? 'payment-response' : 'x-payment-response', encodePaymentResponseHeader(body)]
}
