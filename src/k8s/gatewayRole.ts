/**
 * The gateway role (`vend serve --engine kubernetes --role gateway`): every replica watches the namespace's
 * ServiceOffers and builds its own route table and catalog with the same reconcile() the controller runs, from its own
 * observations (its own upstream probes). No writes to the cluster. Fail closed: not ready (/readyz 503) until the
 * first list has been reconciled and handed to the gateway.
 */
import type { KubeConfig } from '@kubernetes/client-node'
import { createSerialRunner } from '../engine/serialRunner.ts'
import type { CatalogEntry, RouteEntry } from '../reconciler/types.ts'
import { createOfferWatch, reconcileResources, type ObserveFn } from './offerWatch.ts'

export type GatewayRoleOptions = {
  kc: KubeConfig
  namespace: string
  observe: ObserveFn
  /** Swap the gateway's route table and the storefront's catalog. */
  apply: (routes: RouteEntry[], catalog: CatalogEntry[]) => void
  log: { warn(msg: string, f?: Record<string, unknown>): void }
  resyncMs?: number
  now?: () => number
}

export type GatewayRole = {
  /** Resolves after the first sync: the route table reflects the cluster. */
  start(): Promise<void>
  stop(): Promise<void>
  ready(): boolean
  /** Observations changed: rebuild now. */
  reconcileNow(): Promise<void>
}

export function createGatewayRole(o: GatewayRoleOptions): GatewayRole {
  const now = o.now ?? Date.now
  let synced = false
  let ready = false
  let resync: NodeJS.Timeout | undefined
  const runner = createSerialRunner<null>(async () => {
    if (!synced) return
    const { result } = reconcileResources(watch.list(), o.observe, now())
    o.apply(result.routes, result.catalog)
    ready = true
  }, () => null)
  const trigger = () => { runner.run(null).catch((err) => o.log.warn('Route table rebuild failed', { error: (err as Error).message })) }
  const watch = createOfferWatch(o.kc, o.namespace, trigger, (err) => o.log.warn('Offer watch failed; relisting', { error: (err as Error).message }))

  return {
    async start() {
      await watch.start()
      synced = true
      await runner.run(null)
      const tick = () => { trigger(); resync = setTimeout(tick, o.resyncMs ?? 30_000).unref() }
      resync = setTimeout(tick, o.resyncMs ?? 30_000).unref()
    },
    async stop() {
      ready = false
      if (resync) clearTimeout(resync)
      await watch.stop()
      await runner.idle()
    },
    ready: () => ready,
    reconcileNow: () => runner.run(null),
  }
}
