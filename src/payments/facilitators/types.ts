/**
 * One interface for every facilitator: the in-process one on a chain we hold a key for, and remote ones over HTTP.
 * Expected rejections come back as data (isValid/success false with a reason); transport failures throw
 * FacilitatorUnavailableError, which the gate turns into 503 + Retry-After.
 */
import type { PaymentPayload, PaymentRequirements, SettleResponse, VerifyResponse } from '@x402/core/types'
import { BaseError } from '../../errors/base.ts'
import type { FacilitatorObservation } from '../../reconciler/types.ts'

export type SettleHooks = {
  /** The settlement transaction's hash, before it is broadcast (local facilitator only). */
  onTxHash?: (txHash: string) => void | Promise<void>
}

/** Direct chain reads for settlement recovery after a crash (local facilitator only). */
export type ChainAccess = {
  /** Whether the authorisation's nonce is used on chain: EIP-3009 authorizationState, or the Permit2 nonce bitmap (upto). */
  authorizationUsed(asset: string, authorizer: string, nonce: string, scheme?: string): Promise<boolean>
  receipt(txHash: string): Promise<{ success: boolean } | undefined>
  isKnown(txHash: string): Promise<boolean>
}

/** A verify answer; `chainCheck` only when the caller allowed deferring it (VerifyOptions). */
export type Verdict = VerifyResponse & {
  /**
   * Present when the on-chain part of the check (balance, nonce unused, token not paused) was vouched for from what
   * the facilitator already knows about a repeat payer instead of simulated. The settlement itself checks it again;
   * a caller about to send anything before settling (a stream) must run this first.
   */
  chainCheck?: () => Promise<VerifyResponse>
}

export type VerifyOptions = {
  /** The caller settles before releasing the response, or runs `chainCheck` first: the simulation may be skipped. */
  deferChainCheck?: boolean
}

export interface Facilitator {
  /** "local" or the facilitator URL (credentials stripped). */
  readonly id: string
  /** Payloads and requirements are v2, or v1 when the buyer paid with X-PAYMENT. */
  verify(payload: PaymentPayload, requirements: PaymentRequirements, options?: VerifyOptions): Promise<Verdict>
  settle(payload: PaymentPayload, requirements: PaymentRequirements, hooks?: SettleHooks): Promise<SettleResponse>
  /** From the cached /supported answer and the last reachability check; no I/O. */
  observe(caip2: string): FacilitatorObservation
  /** Refresh /supported (remote) or check the RPC (local); never throws. */
  refresh(): Promise<void>
  readonly chain?: ChainAccess
  /**
   * The address that settles `upto` payments on this network (the Permit2 witness's facilitator): the local
   * facilitator's key, or what a remote one lists in /supported (upto kind, extra.facilitatorAddress). Undefined:
   * upto is not offered there, only exact.
   */
  uptoSettler(caip2: string): string | undefined
  close(): Promise<void>
}

export class FacilitatorUnavailableError extends BaseError {
  override name = 'FacilitatorUnavailableError'
  readonly facilitator: string
  constructor(facilitator: string, cause: unknown) {
    super(`Payment facilitator ${facilitator} is unavailable: ${cause instanceof Error ? cause.message : String(cause)}.`, {
      cause, hint: 'Try again shortly; check the facilitator URL in stack.yaml if it persists.',
    })
    this.facilitator = facilitator
  }
}
