/**
 * The payment ledger: one row per payment the stack took (direction 'earned') or made ('spent', buyer side later).
 * The row is also the replay lock: (network, asset, payer, nonce) is unique, so a replayed or concurrent duplicate
 * payment can never be recorded twice. Async methods so a Postgres implementation can share the test suite.
 */
export type PaymentStatus = 'verified' | 'settling' | 'settled' | 'not_charged' | 'failed' | 'expired'
export type PaymentDirection = 'earned' | 'spent'

export type NewPayment = {
  direction?: PaymentDirection
  /** "<namespace>/<name>" */
  offer: string
  route?: string | undefined
  resource?: string | undefined
  /** CAIP-2 */
  network: string
  asset: string
  payer: string
  payTo: string
  /** EIP-3009 authorisation nonce (bytes32 hex). */
  nonce: string
  /** Authorised amount, atomic units. */
  amount: bigint
  /** Unix seconds; the authorisation cannot be settled at or after this time. */
  validBefore: number
  x402Version: number
  /** JSON of the payment payload and the requirements it was verified against: all a later settle needs. */
  payload: string
  requirements: string
  facilitator: string
  settlement: 'onSuccess' | 'optimistic'
  /** Record directly as 'settling' (optimistic settlement owes the chain immediately). */
  status?: 'verified' | 'settling'
}

export type PaymentRecord = {
  id: number
  direction: PaymentDirection
  offer: string
  route: string | undefined
  resource: string | undefined
  network: string
  asset: string
  payer: string
  payTo: string
  nonce: string
  amount: bigint
  chargedAmount: bigint | undefined
  promptTokens: number | undefined
  completionTokens: number | undefined
  status: PaymentStatus
  settlement: 'onSuccess' | 'optimistic'
  validBefore: number
  x402Version: number
  payload: string
  requirements: string
  facilitator: string
  txHash: string | undefined
  error: string | undefined
  attempts: number
  nextAttemptAt: number | undefined
  createdAt: string
  updatedAt: string
  settledAt: string | undefined
}

export type RecordResult = { ok: true; id: number } | { ok: false; existing: PaymentStatus }

export type SummaryRow = { offer: string; status: PaymentStatus; asset: string; network: string; count: number; amount: bigint }

export interface Ledger {
  /** Take the (network, asset, payer, nonce) lock and record the payment; ok:false when that payment exists already. */
  recordVerified(p: NewPayment): Promise<RecordResult>
  get(id: number): Promise<PaymentRecord | undefined>
  /**
   * Settlement owed (the upstream answered < 400): persisted before any settle call. The queue leaves the row to
   * the caller until `leaseUntil` (ms); after a restart every owed row is recovered at once.
   */
  markSettling(id: number, leaseUntil: number): Promise<void>
  /** The settlement transaction's hash, known before it is broadcast. */
  setTxHash(id: number, txHash: string): Promise<void>
  markSettled(id: number, txHash: string, chargedAmount: bigint): Promise<void>
  /**
   * Metered (upto) payments, before settling: the amount to charge, the tokens it pays for, and the requirements
   * a settle (also a retry after a crash) must use.
   */
  recordUsage?(id: number, usage: { chargedAmount: bigint; promptTokens: number; completionTokens: number; requirements: string }): Promise<void>
  markNotCharged(id: number, reason: string): Promise<void>
  markFailed(id: number, reason: string): Promise<void>
  markExpired(id: number): Promise<void>
  /** A transient settle failure: keep it owed and try again at `nextAttemptAt` (ms). */
  scheduleRetry(id: number, error: string, nextAttemptAt: number): Promise<void>
  /** Owed settlements (earned) whose next attempt is due at `now` (ms), oldest first. */
  dueSettlements(now: number, limit: number): Promise<PaymentRecord[]>
  /** Earned rows left 'verified' by a process that died while serving: the request never completed, so nothing is owed. */
  releaseAbandoned(reason: string): Promise<number>
  /** Sum of a payer's owed-but-unsettled amounts to this stack (the optimistic cap). */
  unsettledAmount(network: string, asset: string, payer: string): Promise<bigint>
  /** Totals by offer, status, network and asset for one direction (default: earned). */
  summary(offer?: string, direction?: PaymentDirection): Promise<SummaryRow[]>
  list(options?: { offer?: string; limit?: number }): Promise<PaymentRecord[]>
  close(): Promise<void>
}
