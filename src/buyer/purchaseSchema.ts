/**
 * The Purchase file (VEND_HOME/purchases/<name>.yaml): what this stack buys from another seller and how much it
 * may spend. Written by `vend buy add` (or by hand); the daemon's buyer endpoints read it per request.
 * Amounts are decimal strings in token units of `payment.asset`; the daemon converts them with `decimals`.
 */
import { z } from 'zod'
import { API_VERSION, NAME_PATTERN } from '../offer/schema.ts'

export const PURCHASE_KIND = 'Purchase' as const

const decimal = z.string().regex(/^(0|[1-9]\d*)(\.\d+)?$/, 'must be a decimal number in token units, like "0.5"')
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address')
const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')

export const Budget = z.object({
  /** Most the purchase may ever spend. */
  total: decimal,
  /** Most it may spend per UTC day (no daily cap when absent). */
  perDay: decimal.optional(),
  /** Most one request may cost. */
  maxPerRequest: decimal,
}).strict()

/** perRequest: a fixed price per request; perMTok: a price per million (prompt + completion) tokens. */
export const PriceUnit = z.enum(['perRequest', 'perMTok'])
export type PriceUnit = z.output<typeof PriceUnit>

export const PurchasePayment = z.object({
  /** CAIP-2 network payments may use, e.g. eip155:84532. */
  network: z.string().regex(/^eip155:\d+$/, 'must be a CAIP-2 EVM network like eip155:84532'),
  /** The only asset payments may use. */
  asset: address,
  decimals: z.number().int().min(0).max(36),
  symbol: z.string().min(1).max(16).default('USDC'),
  /** The seller's recipient seen at add time: a payment to anyone else is refused. */
  payTo: address,
  /**
   * The seller's price seen at add time, per `unit`. perRequest: a seller asking more is refused. perMTok (per
   * million tokens): a seller asking more for a request than this price allows for its prompt and max_tokens is
   * refused (perTokenBound.ts).
   */
  price: decimal,
  /** What `price` is for; absent means perRequest (files written before per-token purchases). */
  unit: PriceUnit.optional(),
  /** perMTok: the seller's completion limit seen at add time, the max_tokens of requests that set none. */
  maxTokens: z.number().int().positive().optional(),
}).strict().refine((p) => p.maxTokens === undefined || p.unit === 'perMTok', { message: 'maxTokens applies only to unit perMTok', path: ['maxTokens'] })

export const PurchaseSpec = z.object({
  /** What `vend buy add` was given: the seller's URL or <agentId>@<chain>. */
  seller: z.string().min(1).max(2048),
  /** "<namespace>/<name>" of the seller's offer. */
  offer: z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, 'must be <namespace>/<name>'),
  /** Model name sent upstream for OpenAI-compatible calls (model ids are "<purchase>/<model>"). */
  model: z.string().min(1).max(256).optional(),
  /** Absolute URL of the seller's offer (resolved at add time). */
  endpoint: httpUrl,
  budget: Budget,
  payment: PurchasePayment,
}).strict()

export const Purchase = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(PURCHASE_KIND),
  metadata: z.object({ name: z.string().regex(new RegExp(NAME_PATTERN), 'must be lowercase letters, digits and "-"') }).strict(),
  spec: PurchaseSpec,
}).strict()

export type Purchase = z.output<typeof Purchase>
export type PurchaseSpec = z.output<typeof PurchaseSpec>

/** The unit of a purchase's price (files without one are perRequest). */
export function priceUnit(p: Purchase): PriceUnit {
  return p.spec.payment.unit ?? 'perRequest'
}

/** The model id buyers use on /buy/v1/*: "<purchase>/<model>" ("default" when the purchase names no model). */
export function modelId(p: Purchase): string {
  return `${p.metadata.name}/${p.spec.model ?? 'default'}`
}
