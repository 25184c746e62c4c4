/**
 * ServiceOffers of one namespace, kept current by an informer (list + watch, @kubernetes/client-node makeInformer),
 * and one reconcile pass over them with the same pure reconciler as the embedded engine. The controller and the
 * gateway role both build on this; previous conditions come from the resources' own status, so any replica
 * computes the same lastTransitionTime without local state.
 */
import { CustomObjectsApi, makeInformer, type KubeConfig } from '@kubernetes/client-node'
import { reconcile } from '../reconciler/reconcile.ts'
import type { DesiredOffer, Observations, OfferStatus, ReconcileResult } from '../reconciler/types.ts'
import { desiredFromResource, GROUP, offersPath, PLURAL, previousStatus, VERSION, type ServiceOfferResource } from './resources.ts'

/** Everything the reconciler observes besides the offers, the clock and the previous statuses. */
export type ObserveFn = (desired: readonly DesiredOffer[], now: number) => Omit<Observations, 'now' | 'previous'>

export type OfferWatch = {
  /** Resolves once the initial list is in the cache. */
  start(): Promise<void>
  stop(): Promise<void>
  list(): ServiceOfferResource[]
}

export function createOfferWatch(kc: KubeConfig, namespace: string, onChange: () => void, onError: (err: unknown) => void): OfferWatch {
  const api = kc.makeApiClient(CustomObjectsApi)
  const informer = makeInformer(
    kc, offersPath(namespace),
    () => api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }),
  )
  let stopped = false
  for (const ev of ['add', 'update', 'delete'] as const) informer.on(ev, () => onChange())
  informer.on('error', (err) => {
    if (stopped) return
    onError(err)
    // level-triggered: relist after a pause; the informer does not restart by itself
    setTimeout(() => { if (!stopped) informer.start().then(onChange, onError) }, 1000).unref()
  })
  return {
    async start() { await informer.start() },
    async stop() { stopped = true; await informer.stop() },
    // custom objects arrive as plain JSON
    list: () => [...informer.list()] as unknown as ServiceOfferResource[],
  }
}

export type ResourcePass = { result: ReconcileResult; desired: DesiredOffer[]; byKey: Map<string, ServiceOfferResource> }

export function reconcileResources(items: readonly ServiceOfferResource[], observe: ObserveFn, now: number): ResourcePass {
  const byKey = new Map<string, ServiceOfferResource>()
  const desired: DesiredOffer[] = []
  const previous = new Map<string, OfferStatus>()
  for (const item of items) {
    const d = desiredFromResource(item)
    byKey.set(d.key, item)
    desired.push(d)
    const p = previousStatus(d, item.status)
    if (p) previous.set(d.key, p)
  }
  desired.sort((a, b) => (a.key < b.key ? -1 : 1))
  return { result: reconcile(desired, { ...observe(desired, now), now, previous }), desired, byKey }
}
