/**
 * Types shared by the reconciler (pure), the engine (I/O) and the gateway/storefront (consumers).
 * The reconciler turns (desired offers from disk, observations of the world, now) into per-offer
 * conditions, the gateway's route table and the discovery catalog. Nothing here does I/O.
 */
import type { OfferProblem } from '../offer/parseOffers.ts'
import type { ResolvedOffer } from '../offer/resolveOffer.ts'
import type { ServiceOffer } from '../offer/schema.ts'
import type { InferenceRequest } from '../inference/validateRequest.ts'

export type ConditionStatus = 'True' | 'False' | 'Unknown'
export type ConditionType =
  | 'Valid' | 'ModelReady' | 'UpstreamHealthy' | 'PaymentGateReady' | 'RoutePublished' | 'Registered' | 'Draining' | 'Ready'

export type Condition = {
  type: ConditionType
  status: ConditionStatus
  reason: string
  message: string
  /** ISO time of the last status flip (kept by the engine; the pure reconciler copies it from the previous status). */
  lastTransitionTime?: string
}

/** One offer file as the engine read it from disk. */
export type DesiredOffer = {
  /** "<namespace>/<name>" taken from the file location. */
  key: string
  namespace: string
  name: string
  /** Path of the file relative to VEND_HOME. */
  file: string
  /** When the stack first saw this offer (ms); older offers win path conflicts. */
  createdAt: number
  /** sha256 prefix of the file's spec; conditions carry it as observedGeneration. */
  generation: string
} & ({ offer: ServiceOffer; problem?: undefined } | { offer?: undefined; problem: OfferProblem })

export type HealthObservation = { healthy: boolean; checkedAt: number; status?: number; error?: string }
export type ModelObservation = { ready: boolean; reason: string; message: string }
export type FacilitatorObservation = {
  /** A facilitator is configured for this network (local for the dev chain, or a remote URL). */
  configured: boolean
  /** Its /supported lists the network and scheme (undefined = not known yet). */
  supportsNetwork?: boolean
  /** Last reachability check (shown by `sell status` and /readyz; an outage does not unpublish routes). */
  reachable?: boolean
  url?: string
  detail?: string
}
export type RegistrationObservation = {
  /** The registered agentId on the offer's network, read from the chain, and whether its URI matches. */
  agentId?: string
  uriMatches?: boolean
  txHash?: string
  /** Set when registration cannot proceed without the operator (e.g. no public URL, wallet has no gas). */
  pendingReason?: string
  pendingMessage?: string
}

export type Observations = {
  now: number
  health: ReadonlyMap<string, HealthObservation>
  model: ReadonlyMap<string, ModelObservation>
  facilitatorFor: (caip2: string, offer: ServiceOffer) => FacilitatorObservation
  registration: ReadonlyMap<string, RegistrationObservation>
  /** Previous statuses, to keep lastTransitionTime stable across passes. */
  previous: ReadonlyMap<string, OfferStatus>
}

export type OfferStatus = {
  key: string
  namespace: string
  name: string
  file: string
  generation: string
  type: 'http' | 'inference' | undefined
  conditions: Condition[]
  /** All conditions True. */
  ready: boolean
  /** Ready without Registered: published in the catalog. */
  operationallyReady: boolean
  path: string | undefined
  drainEndsAt: string | undefined
  agentId?: string | undefined
  registrationTxHash?: string | undefined
}

/** What the gateway serves for one published offer. */
export type RouteEntry = {
  key: string
  path: string
  resolved: ResolvedOffer
  /** serving: normal; unhealthy: 503 + Retry-After; draining: serving until drainEndsAt. */
  state: 'serving' | 'unhealthy'
  draining: boolean
  /** Inference offers served by an embedded model (set by the engine): its exact prompt counter; usage comes on every streamed chunk. */
  inference?: { countPromptTokens?: (req: InferenceRequest) => number; continuousUsage?: boolean } | undefined
}

/** One catalog entry (/api/services.json, /skill.md, /.well-known/x402, openapi). */
export type CatalogEntry = {
  key: string
  resolved: ResolvedOffer
  status: OfferStatus
  registrationPending: boolean
  /** When the stack first saw the offer (ms): the oldest registered offer names the stack's agent. */
  createdAt?: number
}

export type ReconcileResult = {
  statuses: Map<string, OfferStatus>
  routes: RouteEntry[]
  catalog: CatalogEntry[]
  /** Every offer that resolved (valid), published or not: the engine probes their upstreams. */
  resolved: Map<string, ResolvedOffer>
}
