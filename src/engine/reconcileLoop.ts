/**
 * The daemon's reconcile loop: desired state from the offer files, observations of upstreams, facilitators and
 * registrations, reconcile(), then the results applied: the gateway's route table (swapped only when it
 * changed), the storefront's catalog, statuses written to the db when they changed (right after the pass, see
 * statusStore.ts; explicit passes wait for the writes).
 *
 * Passes run one at a time (coalesced). A pass whose inputs are unchanged is skipped after its scan, so the
 * periodic resync of a quiet stack with 10,000 offers costs a few stat calls per offer.
 */
import type { DaemonStatus } from './api.ts'
import type { Gateway } from '../gateway/createGateway.ts'
import { findChain } from '../offer/networks.ts'
import type { ResolvedOffer } from '../offer/resolveOffer.ts'
import type { Payments } from '../payments/createPayments.ts'
import { reconcile } from '../reconciler/reconcile.ts'
import type { CatalogEntry, DesiredOffer, OfferStatus, RouteEntry } from '../reconciler/types.ts'
import type { Db } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import { createOfferScanner, type OfferScan } from '../state/offerScanner.ts'
import type { OfferFileRecord } from '../state/offerStore.ts'
import { createStatusStore, type StatusStore } from '../state/statusStore.ts'
import type { DaemonIdentity } from './identity.ts'
import type { Logger } from './log.ts'
import { createObservers } from './observers.ts'
import { watchOffers, type OfferWatcher } from './offerWatcher.ts'
import { createSerialRunner } from './serialRunner.ts'

export type ReconcileLoopDeps = {
  paths: HomePaths
  db: Db
  logger: Logger
  gateway: Gateway
  payments: Payments
  identity: () => DaemonIdentity | undefined
  /** Called after a pass that resolved an offer with registration enabled, until the identity exists. */
  loadIdentity: () => void
  setCatalog: (c: CatalogEntry[]) => void
  opts: { healthIntervalMs?: number; resyncIntervalMs?: number }
}

const INITIAL_PROBE_WAIT_MS = 1000
const NO_REGISTRATIONS = new Map<string, never>()
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref())

export type PassOptions = { awaitProbes: boolean }

/** The reconcile loop proper: desired state from the files, observations, one pass at a time. */
export function createReconcileLoop({ paths, db, logger, gateway, payments, identity, loadIdentity, setCatalog, opts }: ReconcileLoopDeps) {
  const scanner = createOfferScanner(paths)
  const store: StatusStore = createStatusStore(db, (err) => logger.error('Failed to write offer statuses', { error: err }))
  const desiredOf = new WeakMap<OfferFileRecord, DesiredOffer>()
  let records: OfferFileRecord[] = []
  let statuses = new Map<string, OfferStatus>()
  let resolved = new Map<string, ResolvedOffer>()
  let routesFingerprint: string | undefined
  let catalogKeys = ''
  let scanVersion = 0
  let lastInputs = ''
  let ready = false
  let closed = false
  let scanned = false
  let watcher: OfferWatcher | undefined
  let resync: NodeJS.Timeout | undefined
  let boundary: NodeJS.Timeout | undefined

  const observers = createObservers({ intervalMs: opts.healthIntervalMs ?? 5000, onChange: debounce(() => trigger(), 20) })
  const runner = createSerialRunner<PassOptions>(async (o) => {
    if (closed) return
    try {
      // the first scan of a large home parses in two threads; later ones read only what changed
      applyScan(scanned ? scanner.scan() : await scanner.scanFirst())
      scanned = true
      // Explicit passes (POST /reconcile) wait for the probes of new offers (each is capped at 2 s). The first
      // pass gives the initial probes a moment, so healthy offers serve at once; a slow upstream does not hold it.
      if (o.awaitProbes) await observers.settled()
      else if (!ready) await Promise.race([observers.settled(), sleep(INITIAL_PROBE_WAIT_MS)])
      reconcilePass()
    } catch (err) {
      logger.error('Failed to reconcile offers', { error: err })
      throw err
    }
  }, (a, b) => ({ awaitProbes: a.awaitProbes || b.awaitProbes }))
  const trigger = (): void => { runner.run({ awaitProbes: false }).catch(() => { /* logged by the pass */ }) }

  function applyScan(scan: OfferScan): void {
    records = scan.records
    if (!scan.changed.size && !scan.removed.length) return
    scanVersion++
    observers.setOffers(records, scan.changed)
    if (ready) logger.info('Detected offer file changes', { changed: [...scan.changed].slice(0, 20), removed: scan.removed.slice(0, 20) })
  }

  /**
   * Everything a pass reads besides the files' contents: a pass whose inputs are unchanged would produce the
   * same result, so the periodic resync of a quiet stack costs one scan. Draining offers depend on the clock.
   */
  function inputsKey(now: number): string {
    let drains = false
    const facilitators = new Map<string, string>()
    for (const r of records) {
      const o = r.offer
      if (!o) continue
      if (o.spec.drainAt) drains = true
      const k = `${o.spec.payment.network}|${o.spec.payment.facilitator ?? ''}`
      if (facilitators.has(k)) continue
      const chain = findChain(o.spec.payment.network)
      // What reconcile() reads of a facilitator; reachability is shown by `stack status` and does not unpublish.
      const f = chain && payments.facilitatorFor(chain.caip2, o)
      facilitators.set(k, f ? `${f.configured}/${f.supportsNetwork}/${f.url}` : '')
    }
    return `${scanVersion}|${observers.version()}|${identity()?.version() ?? 0}|${drains ? now : ''}|${[...facilitators.values()].join(',')}`
  }

  function reconcilePass(): void {
    const t0 = performance.now()
    const now = Date.now()
    const inputs = inputsKey(now)
    if (ready && inputs === lastInputs) return
    lastInputs = inputs
    const createdAt = store.firstSeen(records.map((r) => ({ key: r.key, seenAt: r.mtimeMs || Date.now() })))
    const desired = records.map((r) => {
      let d = desiredOf.get(r)
      if (!d) {
        // Literals, not spreads of a common base: spread copies get a hidden class each (see stampTransitions).
        const { key, namespace, name, file, generation } = r
        const createdAtMs = createdAt.get(key) ?? Date.now()
        d = r.offer
          ? { key, namespace, name, file, createdAt: createdAtMs, generation, offer: r.offer }
          : { key, namespace, name, file, createdAt: createdAtMs, generation, problem: r.problem }
        desiredOf.set(r, d)
      }
      return d
    })
    const result = reconcile(desired, {
      now,
      health: observers.health(now),
      model: observers.model(),
      facilitatorFor: payments.facilitatorFor,
      registration: identity()?.observations() ?? NO_REGISTRATIONS,
      previous: store.previous(),
    })
    const changed = store.save(result.statuses, new Date(now).toISOString())
    statuses = result.statuses
    resolved = result.resolved
    observers.syncModels(result.resolved.values())
    const id = identity()
    if (id) id.setOffers(result.resolved.values())
    else if ([...result.resolved.values()].some((r) => r.offer.spec.registration.enabled)) loadIdentity()

    const generation = new Map(desired.map((d) => [d.key, d.generation]))
    const routes = observers.routes(result.routes)
    const fp = routeFingerprint(routes, generation)
    if (fp !== routesFingerprint) {
      gateway.setRoutes(routes)
      routesFingerprint = fp
    }
    const keys = result.catalog.map((e) => `${e.key}@${generation.get(e.key)}`).join('\n')
    if (!ready || keys !== catalogKeys || changed.some((k) => statuses.get(k)?.operationallyReady)) {
      setCatalog(result.catalog)
      catalogKeys = keys
    }
    const problems = desired.filter((d) => d.problem).length
    if (!ready || changed.length) {
      logger.info('Reconciled offers', {
        offers: desired.length, routes: result.routes.length, published: result.catalog.length, problems,
        changed: changed.length, ms: Math.round(performance.now() - t0),
      })
    }
    ready = true
    scheduleDrainBoundary(result.resolved.values(), now)
  }

  /** A drain that starts or ends is a change of state with no event: pass again right at the next one. */
  function scheduleDrainBoundary(offers: Iterable<ResolvedOffer>, now: number): void {
    let next = Infinity
    for (const r of offers) {
      for (const t of [r.drainAt, r.drainEndsAt]) if (t !== undefined && t > now && t < next) next = t
    }
    if (boundary) clearTimeout(boundary)
    boundary = undefined
    // Timers beyond ~24 days overflow; the periodic resync covers far-away boundaries.
    if (next - now < 2 ** 31 - 1) {
      boundary = setTimeout(trigger, next - now + 5)
      boundary.unref()
    }
  }

  return {
    ready: () => ready,
    async pass(o: PassOptions) {
      await runner.run(o)
      await store.flushed()
    },
    trigger,
    offer: (key: string) => statuses.get(key),
    resolved: () => resolved,
    async start() {
      // Watch first: a file written while the first pass runs gets a pass of its own right after.
      watcher = watchOffers(paths.offersDir, trigger)
      // The first pass probes every upstream concurrently and waits at most INITIAL_PROBE_WAIT_MS for the results;
      // an offer whose upstream is not known healthy yet is routed as unhealthy (503), never served for free.
      await runner.run({ awaitProbes: false })
      resync = setInterval(trigger, opts.resyncIntervalMs ?? 10_000)
      resync.unref()
    },
    report(withOffers: boolean): Pick<DaemonStatus, 'offers' | 'problems'> {
      const problems = records.filter((r) => r.problem).map((r) => ({ file: r.problem!.file, line: r.problem!.line, message: r.problem!.message }))
      return { ...(withOffers ? { offers: [...statuses.values()] } : {}), problems }
    },
    async close() {
      closed = true
      watcher?.close()
      if (resync) clearInterval(resync)
      if (boundary) clearTimeout(boundary)
      observers.stop()
      identity()?.close()
      await runner.idle()
      try {
        store.flush()
      } catch (err) {
        logger.error('Failed to write offer statuses', { error: err })
      }
    },
    /** After the gateway drained: embedded runtimes and probe connections. */
    release: () => observers.close(),
  }
}

function routeFingerprint(routes: RouteEntry[], generation: ReadonlyMap<string, string>): string {
  return routes.map((r) => `${r.key}|${r.path}|${r.state}|${r.draining}|${generation.get(r.key)}|${r.resolved.offer.spec.upstream?.url}`).join('\n')
}

function debounce(fn: () => void, ms: number): () => void {
  let t: NodeJS.Timeout | undefined
  return () => {
    if (t) return
    t = setTimeout(() => { t = undefined; fn() }, ms)
    t.unref()
  }
}

