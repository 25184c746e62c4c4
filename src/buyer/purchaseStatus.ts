/** What `vend buy list|status` shows of a purchase: its spend from the ledger and its request counters (read-only). */
import { formatAtomic } from '../offer/price.ts'
import { readPayments } from '../payments/ledger/readLedger.ts'
import { openDatabaseReadOnly } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import { countedAmount, spendOf, utcDay } from './budget.ts'
import { ledgerOffer, purchaseLimits } from './payPurchase.ts'
import { modelId, priceUnit, type PriceUnit, type Purchase } from './purchaseSchema.ts'
import { readPurchaseStats } from './purchaseStats.ts'

export type Amount = { decimal: string; atomic: string }

export type PurchaseStatus = {
  name: string
  seller: string
  offer: string
  endpoint: string
  modelId: string
  network: string
  asset: string
  symbol: string
  /** The recorded price, per `priceUnit`. */
  price: Amount
  /** perRequest, or perMTok: per million tokens (prompt + completion). */
  priceUnit: PriceUnit
  /** perMTok: the seller's completion limit recorded at add time (the max_tokens of requests that set none). */
  maxTokens: number | undefined
  budget: { total: Amount; perDay: Amount | undefined; maxPerRequest: Amount }
  /** Counted against the budget: settled payments plus payments whose receipt has not arrived. */
  spent: Amount
  /** Of `spent`: payments without a receipt yet. */
  pending: Amount
  remaining: Amount
  today: { spent: Amount; remaining: Amount | undefined }
  payments: number
  requests: number
  refused: number
  lastError: string | undefined
  lastErrorAt: string | undefined
}

export async function readPurchaseStatus(paths: HomePaths, p: Purchase, now = Date.now()): Promise<PurchaseStatus> {
  const name = p.metadata.name
  const d = p.spec.payment.decimals
  const amt = (a: bigint): Amount => ({ decimal: formatAtomic(a, d), atomic: a.toString() })
  const limits = purchaseLimits(p)
  const rows = await readPayments(paths, ledgerOffer(name))
  const spend = spendOf(rows, utcDay(now))
  const pending = rows.filter((r) => r.direction === 'spent' && r.status !== 'settled').reduce((s, r) => s + countedAmount(r), 0n)
  const db = openDatabaseReadOnly(paths.db)
  let stats
  try { stats = readPurchaseStats(db, name) } finally { db?.close() }
  const left = (limit: bigint, used: bigint) => (limit > used ? limit - used : 0n)
  return {
    name, seller: p.spec.seller, offer: p.spec.offer, endpoint: p.spec.endpoint, modelId: modelId(p),
    network: p.spec.payment.network, asset: p.spec.payment.asset, symbol: p.spec.payment.symbol, price: amt(limits.price),
    priceUnit: priceUnit(p), maxTokens: p.spec.payment.maxTokens,
    budget: { total: amt(limits.total), perDay: limits.perDay === undefined ? undefined : amt(limits.perDay), maxPerRequest: amt(limits.maxPerRequest) },
    spent: amt(spend.total), pending: amt(pending), remaining: amt(left(limits.total, spend.total)),
    today: { spent: amt(spend.today), remaining: limits.perDay === undefined ? undefined : amt(left(limits.perDay, spend.today)) },
    payments: spend.count, requests: stats.requests, refused: stats.refused, lastError: stats.lastError, lastErrorAt: stats.lastErrorAt,
  }
}
