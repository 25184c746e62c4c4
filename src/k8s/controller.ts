/**
 * The ServiceOffer controller (`vend serve --engine kubernetes --role controller`): an informer on the namespace's
 * ServiceOffers, the same pure reconcile() as the embedded engine, and each offer's conditions written through the
 * status subresource, only when they changed. Level-triggered: every pass looks at all offers as they are now (any
 * event, the leader Lease won, or the periodic resync starts one), so missed events and restarts need no special code.
 * Only the Lease holder writes. A write that lost a race (409) is simply retried by the next pass.
 */
import { isDeepStrictEqual } from 'node:util'
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { createSerialRunner } from '../engine/serialRunner.ts'
import type { ResolvedOffer } from '../offer/resolveOffer.ts'
import { createLeaderElector } from './leaderElection.ts'
import { createOfferWatch, reconcileResources, type ObserveFn } from './offerWatch.ts'
import { GROUP, PLURAL, statusForResource, VERSION } from './resources.ts'

export type ControllerLog = { info(msg: string, f?: Record<string, unknown>): void; warn(msg: string, f?: Record<string, unknown>): void }

export type ControllerOptions = {
  kc: KubeConfig
  namespace: string
  /** Lease holder identity (the pod name). */
  identity: string
  observe: ObserveFn
  log: ControllerLog
  leaseName?: string
  leaseSeconds?: number
  resyncMs?: number
  now?: () => number
}

export type Controller = {
  start(): Promise<void>
  stop(): Promise<void>
  isLeader(): boolean
  /** Run a pass now (e.g. observations changed); resolves when a pass that started after the call finished. */
  reconcileNow(): Promise<void>
  /** Status writes done so far. */
  writes(): number
}

export function priceLabel(r: ResolvedOffer): string {
  return `${r.price.decimal} ${r.asset.symbol}/${r.price.unit === 'perMTok' ? 'MTok' : 'request'}`
}

export function createController(o: ControllerOptions): Controller {
  const api = o.kc.makeApiClient(CustomObjectsApi)
  const now = o.now ?? Date.now
  let writes = 0
  let resync: NodeJS.Timeout | undefined

  const runner = createSerialRunner<null>(async () => {
    if (!elector.isLeader()) return
    const { result, byKey } = reconcileResources(watch.list(), o.observe, now())
    for (const [key, item] of byKey) {
      const s = result.statuses.get(key)
      if (!s) continue
      const r = result.resolved.get(key)
      const next = statusForResource(s, item, r && priceLabel(r))
      if (isDeepStrictEqual(JSON.parse(JSON.stringify(item.status ?? null)), JSON.parse(JSON.stringify(next)))) continue
      try {
        await api.replaceNamespacedCustomObjectStatus({
          group: GROUP, version: VERSION, namespace: o.namespace, plural: PLURAL, name: item.metadata.name,
          body: { ...item, status: next },
        })
        writes++
      } catch (err) {
        // 409: the offer changed meanwhile, its watch event brings the next pass; 404: it is gone
        if (err instanceof ApiException && (err.code === 409 || err.code === 404)) continue
        o.log.warn('Failed to write offer status', { offer: key, error: (err as Error).message })
      }
    }
  }, () => null)
  const trigger = () => { runner.run(null).catch((err) => o.log.warn('Reconcile pass failed', { error: (err as Error).message })) }

  const watch = createOfferWatch(o.kc, o.namespace, trigger, (err) => o.log.warn('Offer watch failed; relisting', { error: (err as Error).message }))
  const elector = createLeaderElector({
    kc: o.kc, namespace: o.namespace, name: o.leaseName ?? 'vend-controller', identity: o.identity, leaseSeconds: o.leaseSeconds ?? 15,
    onChange: (leader) => { o.log.info(leader ? 'Became the leader' : 'Lost the leadership', { identity: o.identity }); if (leader) trigger() },
    onError: (err) => o.log.warn('Leader election failed', { error: (err as Error).message }),
  })

  return {
    async start() {
      await watch.start()
      await elector.tryOnce()
      elector.start()
      const tick = () => { trigger(); resync = setTimeout(tick, o.resyncMs ?? 30_000).unref() }
      resync = setTimeout(tick, o.resyncMs ?? 30_000).unref()
    },
    async stop() {
      if (resync) clearTimeout(resync)
      await runner.idle()
      await elector.stop()
      await watch.stop()
    },
    isLeader: () => elector.isLeader(),
    reconcileNow: () => runner.run(null),
    writes: () => writes,
  }
}
