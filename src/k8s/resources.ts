/**
 * ServiceOffer custom resources <-> what the rest of Vend works with: offer files become resources to apply,
 * resources become the reconciler's DesiredOffer (validated with the same zod schema as a file), and reconcile
 * statuses become the resource's status subresource.
 */
import { API_GROUP, API_VERSION, KIND, ServiceOffer } from '../offer/schema.ts'
import type { DesiredOffer, OfferStatus } from '../reconciler/types.ts'
import { specGeneration } from '../state/offerStore.ts'
import { CRD_VERSION, PLURAL } from './crd.ts'

export const GROUP = API_GROUP
export const VERSION = CRD_VERSION
export { PLURAL }
/** Ownership label: the CLI prunes only ServiceOffers carrying it. */
export const MANAGED_BY_LABEL = 'vend.dev/managed-by'
export const MANAGED_BY_CLI = 'vend-cli'
/** Where the file lives in VEND_HOME (offers/<namespace>/<name>.yaml): the offer file's own namespace. */
export const OFFER_NAMESPACE_LABEL = 'vend.dev/offer-namespace'
export const FIELD_MANAGER = 'vend'

export type ServiceOfferStatus = {
  observedGeneration?: number
  specHash?: string
  price?: string
  path?: string
  conditions?: OfferStatus['conditions']
}

export type ServiceOfferResource = {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    generation?: number
    resourceVersion?: string
    creationTimestamp?: string | Date
    uid?: string
  }
  spec: unknown
  status?: ServiceOfferStatus
}

export const offersPath = (namespace: string) => `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`

/** The resource the CLI applies for one valid offer file, in the stack's Kubernetes namespace. */
export function resourceForOffer(offer: ServiceOffer, namespace: string): ServiceOfferResource {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: offer.metadata.name,
      namespace,
      labels: { ...offer.metadata.labels, [MANAGED_BY_LABEL]: MANAGED_BY_CLI, [OFFER_NAMESPACE_LABEL]: offer.metadata.namespace },
      ...(offer.metadata.annotations ? { annotations: offer.metadata.annotations } : {}),
    },
    spec: offer.spec,
  }
}

const SERVER_LABELS = new Set([MANAGED_BY_LABEL, OFFER_NAMESPACE_LABEL])

/**
 * A resource as the reconciler's desired offer: validated with the file schema (an invalid resource gets
 * Valid=False, as an invalid file does); generation is the same spec hash a file gets.
 */
export function desiredFromResource(r: ServiceOfferResource): DesiredOffer {
  const namespace = r.metadata.namespace ?? 'default'
  const name = r.metadata.name
  const labels = Object.fromEntries(Object.entries(r.metadata.labels ?? {}).filter(([k]) => !SERVER_LABELS.has(k)))
  const base = {
    key: `${namespace}/${name}`, namespace, name, file: `${PLURAL}/${namespace}/${name}`,
    createdAt: r.metadata.creationTimestamp ? new Date(r.metadata.creationTimestamp).getTime() : 0,
  }
  const res = ServiceOffer.safeParse({
    apiVersion: r.apiVersion, kind: r.kind, spec: r.spec,
    metadata: { name, namespace, ...(Object.keys(labels).length ? { labels } : {}), ...(r.metadata.annotations ? { annotations: r.metadata.annotations } : {}) },
  })
  if (!res.success) {
    const issue = res.error.issues[0]!
    return { ...base, generation: specGeneration(r.spec), problem: { file: base.file, line: undefined, message: `${issue.path.join('.')}: ${issue.message}` } }
  }
  return { ...base, generation: specGeneration(res.data.spec), offer: res.data }
}

/** The status subresource for one reconcile status (conditions exactly as the reconciler made them). */
export function statusForResource(s: OfferStatus, r: ServiceOfferResource, price: string | undefined): ServiceOfferStatus {
  return {
    ...(r.metadata.generation !== undefined ? { observedGeneration: r.metadata.generation } : {}),
    specHash: s.generation,
    ...(price ? { price } : {}),
    ...(s.path ? { path: s.path } : {}),
    conditions: s.conditions,
  }
}

/** What the reconciler keeps between passes, read back from the resource: lastTransitionTime stays stable. */
export function previousStatus(d: DesiredOffer, status: ServiceOfferStatus | undefined): OfferStatus | undefined {
  if (!status?.conditions) return undefined
  return {
    key: d.key, namespace: d.namespace, name: d.name, file: d.file, generation: status.specHash ?? '', type: undefined,
    conditions: status.conditions, ready: false, operationallyReady: false, path: status.path, drainEndsAt: undefined,
  }
}
