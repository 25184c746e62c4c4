/**
 * What the dashboard shows, as plain data (also served as JSON at /dashboard/api/summary): offers with their
 * conditions and earnings, totals by status class, recent payments with explorer links, purchases (spent) and
 * the request/revenue series. Amounts are exact decimal strings in token units next to their atomic strings. Pure.
 */
import { findChain, isAddress } from '../offer/networks.ts'
import { formatAtomic } from '../offer/price.ts'
import type { ResolvedOffer } from '../offer/resolveOffer.ts'
import type { PaymentStatus } from '../payments/ledger/types.ts'
import type { Condition, OfferStatus } from '../reconciler/types.ts'
import { STATUS_CLASSES, type BucketTotals, type LedgerQueries, type StatusClass, type Tally } from './queries.ts'

export type RangeName = '1h' | '24h' | '7d' | '30d'
/** Each range is a fixed number of buckets ending with the one that holds `now` (UTC-aligned). */
export const RANGES: Record<RangeName, { spanSeconds: number; bucketSeconds: number; label: string }> = {
  '1h': { spanSeconds: 3600, bucketSeconds: 60, label: 'last hour, per minute' },
  '24h': { spanSeconds: 86_400, bucketSeconds: 3600, label: 'last 24 hours, per hour' },
  '7d': { spanSeconds: 7 * 86_400, bucketSeconds: 6 * 3600, label: 'last 7 days, per 6 hours' },
  '30d': { spanSeconds: 30 * 86_400, bucketSeconds: 86_400, label: 'last 30 days, per day' },
}
export const DEFAULT_RANGE: RangeName = '24h'

export function parseRange(value: string | null): RangeName {
  return value !== null && Object.hasOwn(RANGES, value) ? value as RangeName : DEFAULT_RANGE
}

/** A token on a network: how its atomic amounts read. Unknown tokens show atomic units. */
export type Token = { network: string; chain: string; asset: string; symbol: string; decimals: number }
export type Amount = { count: number; atomic: string; amount: string }
export type TokenTotals = { token: Token } & Record<StatusClass, Amount>

export type OfferRow = {
  key: string
  type: 'http' | 'inference' | undefined
  path: string | undefined
  /** ready | published (operationally ready, registration pending) | not ready | removed (only in the ledger). */
  state: 'ready' | 'published' | 'not ready' | 'removed'
  price: string | undefined
  network: string | undefined
  conditions: Condition[]
  earnings: TokenTotals[]
}

export type PaymentRow = {
  id: number
  createdAt: string
  offer: string
  payer: string
  payerUrl: string | undefined
  amount: string
  symbol: string
  status: PaymentStatus
  network: string
  txHash: string | undefined
  txUrl: string | undefined
  error: string | undefined
}

export type ChartBucket = { start: string; requests: number; revenueAtomic: string; revenue: string }
export type Chart = {
  range: RangeName
  label: string
  bucketSeconds: number
  /** The token revenue is charted in: the one with the most settled payments in the range. */
  token: Token | undefined
  /** Other tokens with revenue in the range (their amounts are in the tables). */
  otherTokens: string[]
  buckets: ChartBucket[]
}

export type DashboardSummary = {
  generatedAt: string
  offers: OfferRow[]
  totals: TokenTotals[]
  spent: { purchase: string; totals: TokenTotals[] }[]
  recent: PaymentRow[]
  chart: Chart
}

export type SummaryInput = {
  queries: LedgerQueries
  statuses: readonly OfferStatus[]
  offers: ReadonlyMap<string, ResolvedOffer>
  now: Date
  range: RangeName
  recentLimit?: number
}

export function tokenOf(network: string, asset: string, offers: ReadonlyMap<string, ResolvedOffer>): Token {
  const chain = findChain(network)
  const a = asset.toLowerCase()
  const known = chain?.usdc?.address.toLowerCase() === a ? chain.usdc
    : [...offers.values()].find((o) => o.chain.caip2 === network && o.asset.address.toLowerCase() === a)?.asset
  return {
    network, chain: chain?.name ?? network, asset: a,
    symbol: known?.symbol ?? `units of ${a.slice(0, 6)}…${a.slice(-4)}`, decimals: known?.decimals ?? 0,
  }
}

const amountOf = (t: Tally, token: Token): Amount => ({ count: t.count, atomic: t.amount.toString(), amount: formatAtomic(t.amount, token.decimals) })

function tokenTotals(rows: { network: string; asset: string; byClass: Record<StatusClass, Tally> }[], offers: ReadonlyMap<string, ResolvedOffer>): TokenTotals[] {
  const sums = new Map<string, { token: Token; byClass: Record<StatusClass, Tally> }>()
  for (const r of rows) {
    const k = `${r.network}\0${r.asset}`
    let s = sums.get(k)
    if (!s) { s = { token: tokenOf(r.network, r.asset, offers), byClass: { settled: { count: 0, amount: 0n }, pending: { count: 0, amount: 0n }, notCharged: { count: 0, amount: 0n } } }; sums.set(k, s) }
    for (const c of STATUS_CLASSES) { s.byClass[c].count += r.byClass[c].count; s.byClass[c].amount += r.byClass[c].amount }
  }
  return [...sums.values()].map(({ token, byClass }) => ({ token, settled: amountOf(byClass.settled, token), pending: amountOf(byClass.pending, token), notCharged: amountOf(byClass.notCharged, token) }))
}

function priceLabel(r: ResolvedOffer): string {
  return `${formatAtomic(r.price.atomic, r.asset.decimals)} ${r.asset.symbol} per ${r.price.unit === 'perMTok' ? 'million tokens' : 'request'}`
}

function offerState(s: OfferStatus): OfferRow['state'] {
  return s.ready ? 'ready' : s.operationallyReady ? 'published' : 'not ready'
}

function chart(buckets: BucketTotals[], range: RangeName, now: Date, offers: ReadonlyMap<string, ResolvedOffer>): Chart {
  const { bucketSeconds, spanSeconds, label } = RANGES[range]
  const last = Math.floor(now.getTime() / 1000 / bucketSeconds)
  const first = last - spanSeconds / bucketSeconds + 1
  const settledCount = new Map<string, number>()
  for (const b of buckets) {
    if (b.byClass.settled.count) settledCount.set(`${b.network}\0${b.asset}`, (settledCount.get(`${b.network}\0${b.asset}`) ?? 0) + b.byClass.settled.count)
  }
  const ranked = [...settledCount.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k.split('\0') as [string, string])
  const top = ranked[0]
  const token = top ? tokenOf(top[0], top[1], offers) : undefined
  const series = new Map<number, { requests: number; revenue: bigint }>()
  for (const b of buckets) {
    const s = series.get(b.bucket) ?? { requests: 0, revenue: 0n }
    s.requests += STATUS_CLASSES.reduce((n, c) => n + b.byClass[c].count, 0)
    if (token && b.network === token.network && b.asset === token.asset) s.revenue += b.byClass.settled.amount
    series.set(b.bucket, s)
  }
  const out: ChartBucket[] = []
  for (let i = first; i <= last; i++) {
    const s = series.get(i) ?? { requests: 0, revenue: 0n }
    out.push({ start: new Date(i * bucketSeconds * 1000).toISOString(), requests: s.requests, revenueAtomic: s.revenue.toString(), revenue: formatAtomic(s.revenue, token?.decimals ?? 0) })
  }
  return {
    range, label, bucketSeconds, token, buckets: out,
    otherTokens: ranked.slice(1).map(([n, a]) => { const t = tokenOf(n, a, offers); return `${t.symbol} on ${t.chain}` }),
  }
}

/** The first bucket's start (ms) of `range` ending at `now`: where the series query starts. */
export function rangeStartMs(range: RangeName, now: Date): number {
  const { bucketSeconds, spanSeconds } = RANGES[range]
  return (Math.floor(now.getTime() / 1000 / bucketSeconds) - spanSeconds / bucketSeconds + 1) * bucketSeconds * 1000
}

const TX_HASH = /^0x[0-9a-fA-F]{64}$/

export function buildSummary(input: SummaryInput): DashboardSummary {
  const { queries, statuses, offers, now, range } = input
  const earned = queries.totals('earned')
  const rows: OfferRow[] = [...statuses].sort((a, b) => a.key.localeCompare(b.key)).map((s) => {
    const r = offers.get(s.key)
    return {
      key: s.key, type: s.type, path: s.path, state: offerState(s), conditions: s.conditions,
      price: r && priceLabel(r), network: r?.chain.name,
      earnings: tokenTotals(earned.filter((e) => e.offer === s.key), offers),
    }
  })
  const known = new Set(statuses.map((s) => s.key))
  for (const key of [...new Set(earned.map((e) => e.offer))].filter((k) => !known.has(k)).sort()) {
    rows.push({ key, type: undefined, path: undefined, state: 'removed', price: undefined, network: undefined, conditions: [], earnings: tokenTotals(earned.filter((e) => e.offer === key), offers) })
  }
  const spentRows = queries.totals('spent')
  const purchases = [...new Set(spentRows.map((r) => r.offer))]
  return {
    generatedAt: now.toISOString(),
    offers: rows,
    totals: tokenTotals(earned, offers),
    spent: purchases.map((p) => ({ purchase: p, totals: tokenTotals(spentRows.filter((r) => r.offer === p), offers) })),
    recent: queries.recent(input.recentLimit ?? 25).map((p) => {
      const token = tokenOf(p.network, p.asset, offers)
      const explorer = findChain(p.network)?.explorer
      // The hash comes from a facilitator: linked only when it is one.
      const txHash = p.txHash && TX_HASH.test(p.txHash) ? p.txHash : undefined
      return {
        id: p.id, createdAt: p.createdAt, offer: p.offer, payer: p.payer, amount: formatAtomic(p.amount, token.decimals), symbol: token.symbol,
        status: p.status, network: p.network, txHash: p.txHash, error: p.error,
        payerUrl: explorer && isAddress(p.payer) ? `${explorer}/address/${p.payer}` : undefined,
        txUrl: explorer && txHash ? `${explorer}/tx/${txHash}` : undefined,
      }
    }),
    chart: chart(queries.buckets(rangeStartMs(range, now), RANGES[range].bucketSeconds), range, now, offers),
  }
}
