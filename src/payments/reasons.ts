/**
 * Why a payment was refused, as a machine-readable x402-style reason (the facilitators' own codes where they exist)
 * and one human sentence. Facilitator answers are mapped here; a generic "simulation failed" is refined from the
 * revert text so a buyer learns the real cause (used nonce, balance, expiry).
 */
export type Refusal = { status: 402 | 503; reason: string; message: string; retryAfterSeconds?: number }

export const refusal = (reason: string, message: string): Refusal => ({ status: 402, reason, message })

export const unavailable = (message: string, retryAfterSeconds = 5): Refusal => ({ status: 503, reason: 'facilitator_unavailable', message, retryAfterSeconds })

const MESSAGES: Record<string, string> = {
  invalid_exact_evm_signature: 'The payment signature does not match the payer and authorization.',
  invalid_exact_evm_recipient_mismatch: 'The payment is addressed to a different recipient than this route\'s payTo.',
  invalid_exact_evm_payload_authorization_valid_before: 'The payment authorization has expired; sign a new one.',
  invalid_exact_evm_payload_authorization_valid_after: 'The payment authorization is not valid yet.',
  invalid_exact_evm_payload_authorization_value_mismatch: 'The payment amount does not equal the price.',
  invalid_exact_evm_nonce_already_used: 'This payment authorization has already been used.',
  invalid_exact_evm_insufficient_balance: 'The payer\'s balance is too low for this payment.',
  invalid_exact_evm_network_mismatch: 'The payment is for a different network than this route.',
  invalid_exact_evm_missing_eip712_domain: 'The payment requirements lack the token\'s EIP-712 domain.',
  invalid_exact_evm_token_name_mismatch: 'The payment was signed for a different token name.',
  invalid_exact_evm_token_version_mismatch: 'The payment was signed for a different token version.',
  invalid_exact_evm_scheme: 'Only the "exact" payment scheme is accepted.',
  invalid_exact_evm_transaction_simulation_failed: 'The payment would fail on chain.',
}

/** Reasons from a revert message, for facilitators that could not diagnose the failure themselves. */
const REVERTS: [RegExp, string][] = [
  [/authorization is used|used or canceled|AuthorizationAlreadyUsed|AuthorizationUsedOrCanceled/i, 'invalid_exact_evm_nonce_already_used'],
  [/exceeds balance|insufficient balance|ERC20InsufficientBalance/i, 'invalid_exact_evm_insufficient_balance'],
  [/authorization is expired|AuthorizationExpired/i, 'invalid_exact_evm_payload_authorization_valid_before'],
  [/not yet valid|AuthorizationNotYetValid/i, 'invalid_exact_evm_payload_authorization_valid_after'],
  [/invalid signature|SignerMismatch/i, 'invalid_exact_evm_signature'],
]

export function refineReason(reason: string | undefined, detail: string | undefined): string {
  const r = reason || 'invalid_payment'
  if (detail && (r.endsWith('simulation_failed') || r.endsWith('transaction_failed') || r === 'unexpected_verify_error' || r === 'unexpected_settle_error')) {
    for (const [re, refined] of REVERTS) if (re.test(detail)) return refined
  }
  return r
}

/** A facilitator's isValid:false / success:false answer as a refusal. */
export function fromFacilitator(reason: string | undefined, detail: string | undefined): Refusal {
  const r = refineReason(reason, detail)
  return refusal(r, MESSAGES[r] ?? `The payment was refused (${r}).`)
}

/** Settle failures that may succeed when tried again (keep the payment queued). */
export function isTransientSettleFailure(reason: string | undefined): boolean {
  return reason === 'settlement_pending' || reason === 'unexpected_settle_error'
}
