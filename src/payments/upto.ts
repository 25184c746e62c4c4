/**
 * x402 `upto` on the wire (Permit2, @x402/evm 2.27), next to `exact` for metered inference: the requirements a
 * 402 offers for one request (upto first, then the exact fallback, both for the request's maximum), matching a
 * payment header to them (scheme, network, asset, recipient, amount), and the receipt with the amount charged.
 * Pure; every refusal is a value with an x402-style reason.
 */
import { decodePaymentSignatureHeader, encodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from '@x402/core/types'
import type { V1Requirements } from '../gateway/createGateway.ts'
import { refusal, type Refusal } from './reasons.ts'
import { matchPayment, type MatchedPayment } from './wire.ts'

/** The canonical x402 upto Permit2 proxy: the only spender an upto authorisation may name. */
export const UPTO_PROXY_ADDRESS = '0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002'

export type Permit2Authorization = {
  from: string
  permitted: { token: string; amount: string }
  spender: string
  /** uint256, decimal. */
  nonce: string
  /** Unix seconds. */
  deadline: string
  witness: { to: string; facilitator: string; validAfter: string }
}

/** A payment matched to one of a request's requirements, with what the ledger lock needs. */
export type InferencePayment = {
  scheme: 'upto' | 'exact'
  version: 1 | 2
  payload: PaymentPayload
  /** What the payload is verified against (v1 shape for v1 exact payloads). */
  requirements: PaymentRequirements
  /** The v2 entry it matched. */
  accepted: PaymentRequirements
  payer: string
  /** Ledger lock nonce: the EIP-3009 bytes32 nonce, or the Permit2 uint256 nonce (decimal). */
  nonce: string
  /** Unix seconds after which the authorisation cannot be settled (validBefore / Permit2 deadline). */
  validBefore: number
}

/**
 * The requirements for one request that may cost up to `maxAmount`: upto first (when a settler address is known
 * for the witness), then exact, both from the route's entry (same network, asset, payTo).
 */
export function meteredAccepts(route: PaymentRequirements, maxAmount: bigint, facilitatorAddress: string | undefined): PaymentRequirements[] {
  const amount = maxAmount.toString()
  const exact: PaymentRequirements = { ...route, scheme: 'exact', amount }
  if (!facilitatorAddress) return [exact]
  const extra = { ...route.extra, assetTransferMethod: 'permit2', facilitatorAddress }
  return [{ ...route, scheme: 'upto', amount, extra }, exact]
}

/** The v1 shape of exact entries (v1 has no upto): the route's v1 entry with this request's amount. */
export function exactV1(v1: readonly V1Requirements[], accepts: readonly PaymentRequirements[]): V1Requirements[] {
  const exact = accepts.find((a) => a.scheme === 'exact')
  return exact && v1[0] ? [{ ...v1[0], maxAmountRequired: exact.amount }] : []
}

const ADDR = /^0x[0-9a-fA-F]{40}$/
const UINT = /^\d{1,78}$/
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

/** The Permit2 authorisation of an upto payload, or undefined when it is not well formed. */
export function parsePermit2Authorization(payload: unknown): Permit2Authorization | undefined {
  const p = payload as { permit2Authorization?: Record<string, unknown>; signature?: unknown } | undefined
  const a = p?.permit2Authorization
  if (!a || typeof p?.signature !== 'string' || !/^0x[0-9a-fA-F]+$/.test(p.signature)) return undefined
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '')
  const permitted = (a['permitted'] ?? {}) as Record<string, unknown>
  const witness = (a['witness'] ?? {}) as Record<string, unknown>
  const auth: Permit2Authorization = {
    from: str(a['from']), spender: str(a['spender']), nonce: str(a['nonce']), deadline: str(a['deadline']),
    permitted: { token: str(permitted['token']), amount: str(permitted['amount']) },
    witness: { to: str(witness['to']), facilitator: str(witness['facilitator']), validAfter: str(witness['validAfter']) },
  }
  const ok = [auth.from, auth.spender, auth.permitted.token, auth.witness.to, auth.witness.facilitator].every((x) => ADDR.test(x))
    && [auth.nonce, auth.deadline, auth.permitted.amount, auth.witness.validAfter].every((x) => UINT.test(x))
  return ok ? auth : undefined
}

/**
 * Match a payment header to this request's requirements (`required.accepts` as meteredAccepts built them,
 * `v1` their v1 exact entries). upto is matched here; exact goes through wire.ts matchPayment against the exact
 * entry alone, so an asset shared by both schemes is never ambiguous.
 */
export function matchMeteredPayment(
  payment: { version: 1 | 2; header: string },
  required: PaymentRequired,
  v1: readonly V1Requirements[],
): { ok: true; payment: InferencePayment } | { ok: false; refusal: Refusal } {
  let scheme: unknown = 'exact'
  let decoded: PaymentPayload | undefined
  if (payment.version === 2) {
    try {
      decoded = decodePaymentSignatureHeader(payment.header)
      scheme = (decoded as { accepted?: { scheme?: unknown } }).accepted?.scheme
    } catch { /* matchPayment gives the reason */ }
  }
  if (scheme === 'upto' && decoded) return matchUpto(decoded, required)
  const exact = required.accepts.filter((a) => a.scheme === 'exact')
  const m = matchPayment(payment, { ...required, accepts: exact }, v1)
  if (!m.ok) return m
  return { ok: true, payment: fromExact(m.payment) }
}

function fromExact(p: MatchedPayment): InferencePayment {
  return {
    scheme: 'exact', version: p.version, payload: p.payload, requirements: p.requirements, accepted: p.accepted,
    payer: p.auth.from, nonce: p.auth.nonce, validBefore: Number(p.auth.validBefore),
  }
}

function matchUpto(decoded: PaymentPayload, required: PaymentRequired): { ok: true; payment: InferencePayment } | { ok: false; refusal: Refusal } {
  if (decoded.x402Version !== 2) return { ok: false, refusal: refusal('invalid_x402_version', 'The upto scheme needs x402 version 2 (PAYMENT-SIGNATURE).') }
  const req = required.accepts.find((a) => a.scheme === 'upto')
  if (!req) return { ok: false, refusal: refusal('invalid_scheme', 'This request is not offered with the "upto" scheme; pay with "exact".') }
  const auth = parsePermit2Authorization(decoded.payload)
  if (!auth) return { ok: false, refusal: refusal('invalid_payload', 'The payment payload has no valid Permit2 authorization and signature.') }
  const claimed = decoded.accepted as Partial<PaymentRequirements>
  if (claimed.network !== req.network) {
    return { ok: false, refusal: refusal('invalid_upto_evm_network_mismatch', `The payment is for network ${String(claimed.network)}, but this route takes ${req.network}.`) }
  }
  if (!same(String(claimed.asset ?? ''), req.asset) || !same(auth.permitted.token, req.asset)) {
    return { ok: false, refusal: refusal('invalid_upto_evm_asset_mismatch', `The payment is in asset ${auth.permitted.token}, but this route takes ${req.asset}.`) }
  }
  if (!same(auth.witness.to, req.payTo) || !same(String(claimed.payTo ?? ''), req.payTo)) {
    return { ok: false, refusal: refusal('invalid_upto_evm_recipient_mismatch', `The payment goes to ${auth.witness.to}, but this route is paid to ${req.payTo}.`) }
  }
  if (BigInt(auth.permitted.amount) !== BigInt(req.amount) || String(claimed.amount) !== req.amount) {
    return { ok: false, refusal: refusal('invalid_upto_evm_amount_mismatch', `The payment authorises up to ${auth.permitted.amount} atomic units, but this request's maximum is ${req.amount}; ask again for the 402 of this exact body.`) }
  }
  if (!same(auth.spender, UPTO_PROXY_ADDRESS)) {
    return { ok: false, refusal: refusal('invalid_permit2_spender', `The Permit2 spender must be the x402 upto proxy ${UPTO_PROXY_ADDRESS}.`) }
  }
  return {
    ok: true,
    payment: {
      scheme: 'upto', version: 2, payload: decoded, requirements: req, accepted: req,
      payer: auth.from, nonce: auth.nonce, validBefore: Number(auth.deadline),
    },
  }
}

/** The receipt header, with the amount actually charged. */
export function meteredReceipt(version: 1 | 2, settle: SettleResponse, amount: bigint): [string, string] {
  const body = {
    success: settle.success, transaction: settle.transaction, network: settle.network, amount: amount.toString(),
    ...(settle.payer ? { payer: settle.payer } : {}),
  } as SettleResponse
  return [version === 2 ? 'payment-response' : 'x-payment-response', encodePaymentResponseHeader(body)]
}

/**
 * What a receipt says was charged: an upto receipt's `amount` (at most the authorised maximum); the maximum for
 * exact, and for an upto receipt without a readable amount (fail safe: never count less than may have moved).
 */
export function chargedAmount(scheme: string, receiptAmount: unknown, max: bigint): bigint {
  if (scheme !== 'upto' || typeof receiptAmount !== 'string' || !/^\d{1,78}$/.test(receiptAmount)) return max
  const charged = BigInt(receiptAmount)
  return charged <= max ? charged : max
}
