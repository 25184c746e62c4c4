/**
 * The ServiceOffer schema: one zod definition gives validation, defaults, the TypeScript types and the
 * JSON Schema (reused by the Kubernetes CRD). Cross-field rules that need the chain table live in
 * validateOffer.ts so the JSON Schema stays a plain structural schema.
 */
import { z } from 'zod'

export const API_GROUP = 'vend.dev'
export const API_VERSION = `${API_GROUP}/v1alpha1` as const
export const KIND = 'ServiceOffer' as const

/** DNS-1123 label: lowercase letters, digits and '-', 1-63 chars. Keeps names safe as file and path segments. */
export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
const name = z.string().regex(new RegExp(NAME_PATTERN), 'must be lowercase letters, digits and "-" (at most 63), starting and ending with a letter or digit')

const decimal = z.string().regex(/^(0|[1-9]\d*)(\.\d+)?$/, 'must be a decimal number in token units, like "0.001"')
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address')
const urlPath = z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, 'must be an absolute path like /services/name (letters, digits, . _ ~ - /)').max(512)
const duration = z.string().regex(/^(\d+(ms|s|m|h|d))+$/, 'must be a duration like 30s, 15m, 1h or 1h30m')
const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')

/** A header value is never written literally: it comes from an environment variable or a secret file. */
export const SecretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), prefix: z.string().optional() }).strict(),
  z.object({ file: z.string().min(1), prefix: z.string().optional() }).strict(),
], { error: 'header values must be {env: NAME} or {file: /path/to/secret} (with an optional prefix such as "Bearer "); literal secrets are not allowed in offer files' })

export const Price = z.object({
  perRequest: decimal.optional(),
  perMTok: decimal.optional(),
}).strict()

export const Asset = z.object({
  address,
  symbol: z.string().min(1).max(16).optional(),
  decimals: z.number().int().min(0).max(36).optional(),
  eip712Name: z.string().min(1).optional(),
  eip712Version: z.string().min(1).optional(),
  transferMethod: z.enum(['eip3009', 'permit2']).optional(),
}).strict()

export const Payment = z.object({
  scheme: z.literal('exact').default('exact'),
  network: z.string().min(1),
  payTo: address,
  asset: Asset.optional(),
  price: Price,
  maxTimeoutSeconds: z.number().int().min(10).max(86_400).default(300),
  /** onSuccess (default): settle after the upstream answered < 400. optimistic: serve right after verify, settle from the queue. */
  settlement: z.enum(['onSuccess', 'optimistic']).default('onSuccess'),
  /** Per-offer facilitator override (URL, or "local" for the in-process one). */
  facilitator: z.string().min(1).optional(),
}).strict()

// RE2-compatible (Kubernetes compiles CRD patterns with RE2: no lookbehind).
const routePath = z.string().regex(/^\/[A-Za-z0-9._~\-/]*$|^\/([A-Za-z0-9._~\-/]*\/)?\*$/, 'must be a path relative to the offer, like /submit, or a prefix ending in /*, like /jobs/* (or /* for everything)').max(512)

export const Route = z.object({
  path: routePath,
  gate: z.enum(['paid', 'free']).default('paid'),
  price: Price.optional(),
  methods: z.array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])).optional(),
  summary: z.string().max(300).optional(),
}).strict()

export const Upstream = z.object({
  url: httpUrl,
  healthPath: urlPath.default('/health'),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name'), SecretRef).optional(),
  timeoutSeconds: z.number().int().min(1).max(3600).default(60),
}).strict()

export const Model = z.object({
  name: z.string().min(1).max(256),
  /** A GGUF file served inside the daemon (embedded runtime) instead of an upstream server. */
  file: z.string().min(1).optional(),
  threads: z.number().int().min(1).max(256).optional(),
  contextSize: z.number().int().min(128).optional(),
  /** Upper bound on max_tokens a buyer may ask for; also the default when a request gives none. */
  maxTokens: z.number().int().min(1).max(1_000_000).default(1024),
  /** Upstream API flavour. */
  api: z.enum(['openai', 'ollama']).default('openai'),
}).strict()

export const Registration = z.object({
  enabled: z.boolean().default(true),
  name: z.string().min(1).max(256).optional(),
  description: z.string().max(4096).optional(),
  image: z.string().max(2048).optional(),
  skills: z.array(z.string().min(1).max(256)).max(64).default([]),
  domains: z.array(z.string().min(1).max(256)).max(64).default([]),
  metadata: z.record(z.string(), z.string()).default({}),
}).strict()

export const Limits = z.object({
  maxInFlight: z.number().int().min(1).optional(),
  rps: z.number().positive().optional(),
}).strict()

export const OfferSpec = z.object({
  type: z.enum(['http', 'inference']),
  description: z.string().max(4096).optional(),
  upstream: Upstream.optional(),
  model: Model.optional(),
  path: urlPath.optional(),
  payment: Payment,
  routes: z.array(Route).max(128).optional(),
  limits: Limits.optional(),
  registration: Registration.default({ enabled: true, skills: [], domains: [], metadata: {} }),
  drainAt: z.iso.datetime({ offset: true }).optional(),
  drainGracePeriod: duration.optional(),
}).strict()

export const Metadata = z.object({
  name,
  namespace: name.default('default'),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
}).strict()

export const ServiceOffer = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: Metadata,
  spec: OfferSpec,
}).strict()

/** What a file may contain (defaults not applied yet). */
export type ServiceOfferInput = z.input<typeof ServiceOffer>
/** A validated offer with defaults applied. */
export type ServiceOffer = z.output<typeof ServiceOffer>
export type OfferSpec = z.output<typeof OfferSpec>
export type PaymentSpec = z.output<typeof Payment>
export type RouteSpec = z.output<typeof Route>
export type PriceSpec = z.output<typeof Price>
export type SecretRef = z.output<typeof SecretRef>

/** JSON Schema (draft 2020-12) of the file format, defaults included. */
export function offerJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ServiceOffer, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>
}
