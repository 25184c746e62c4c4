/**
 * What the daemon observes about each offer's upstream, for the reconciler's UpstreamHealthy and ModelReady:
 * - http offers: GET <upstream.url><healthPath> (2xx = healthy);
 * - inference offers with an upstream: its model list (GET /v1/models, or /api/tags for Ollama) both says
 *   whether the upstream answers (UpstreamHealthy) and whether it serves the model (ModelReady). Ollama has no
 *   /health, and hosted APIs answer 404 there, so the health path is not used for inference;
 * - inference offers with spec.model.file: the embedded runtime (loaded = healthy), whose URL becomes the
 *   route's upstream.
 */
import { resolveSecretHeaders } from '../gateway/secrets.ts'
import { createEmbeddedModels, embeddedModelSpecs } from '../inference/embeddedModels.ts'
import { observeUpstreamModel, type UpstreamTarget } from '../inference/upstream.ts'
import type { ResolvedOffer } from '../offer/resolveOffer.ts'
import type { ServiceOffer } from '../offer/schema.ts'
import type { HealthObservation, ModelObservation, RouteEntry } from '../reconciler/types.ts'
import type { OfferFileRecord } from '../state/offerStore.ts'
import { createHealthCheck, createProber, healthDiffers, healthUrl } from './prober.ts'

export type Observers = {
  /** The offer files changed: probe new targets now, and the changed offers' targets again. */
  setOffers(records: readonly OfferFileRecord[], changed: Iterable<string>): void
  /** After a pass: start, restart or close embedded runtimes to match the valid offers. */
  syncModels(resolved: Iterable<ResolvedOffer>): void
  health(now: number): ReadonlyMap<string, HealthObservation>
  model(): ReadonlyMap<string, ModelObservation>
  /** Routes of embedded-model offers get their runtime as upstream (none while it loads: the gateway answers 503). */
  routes(routes: RouteEntry[]): RouteEntry[]
  /** Changes whenever any observation changed. */
  version(): string
  /** Resolves when every probe started so far has finished. */
  settled(): Promise<void>
  /** Stop probing (shutdown starts). */
  stop(): void
  /** Release runtimes and connections (after the gateway drained). */
  close(): Promise<void>
}

type ModelTarget = { id: string; target: UpstreamTarget; model: string; secretError?: string }

const modelDiffers = (a: ModelObservation | undefined, b: ModelObservation): boolean =>
  !a || a.ready !== b.ready || a.reason !== b.reason || a.message !== b.message

export function createObservers({ intervalMs = 5000, onChange, env = process.env }: { intervalMs?: number; onChange: () => void; env?: NodeJS.ProcessEnv }): Observers {
  const check = createHealthCheck()
  const health = createProber<string, HealthObservation>({ probe: check.probe, idOf: (url) => url, differs: healthDiffers, intervalMs, onChange })
  const upstreamModels = createProber<ModelTarget, ModelObservation>({
    probe: async (t) => t.secretError ? { ready: false, reason: 'UpstreamSecretMissing', message: t.secretError } : observeUpstreamModel(t.target, t.model),
    idOf: (t) => t.id, differs: modelDiffers, intervalMs, onChange,
  })
  let embeddedVersion = 0
  const embedded = createEmbeddedModels({ onChange: () => { embeddedVersion++; onChange() } })
  let embeddedKeys: string[] = []

  return {
    setOffers(records, changed) {
      const urls = new Map<string, string>()
      const models = new Map<string, ModelTarget>()
      for (const r of records) {
        const o = r.offer
        if (!o?.spec.upstream) continue
        if (o.spec.type === 'inference') {
          if (o.spec.model) models.set(r.key, modelTarget(o, env))
        } else urls.set(r.key, healthUrl(o.spec.upstream.url, o.spec.upstream.healthPath))
      }
      health.setTargets(urls)
      upstreamModels.setTargets(models)
      const keys = [...changed]
      health.reprobe(keys)
      upstreamModels.reprobe(keys)
    },
    syncModels(resolved) {
      const specs = embeddedModelSpecs(resolved)
      embeddedKeys = specs.map((s) => s.key)
      embedded.sync(specs)
    },
    health(now) {
      const out = new Map(health.observations())
      for (const [key, m] of upstreamModels.observations()) {
        out.set(key, m.reason === 'UpstreamUnreachable' ? { healthy: false, checkedAt: now, error: m.message } : { healthy: true, checkedAt: now })
      }
      for (const key of embeddedKeys) if (embedded.runtime(key)) out.set(key, { healthy: true, checkedAt: now })
      return out
    },
    model() {
      const out = new Map(upstreamModels.observations())
      for (const key of embeddedKeys) {
        const o = embedded.observation(key)
        if (o) out.set(key, o)
      }
      return out
    },
    routes(routes) {
      if (!embeddedKeys.length) return routes
      return routes.map((r) => {
        const rt = r.resolved.offer.spec.model?.file ? embedded.runtime(r.key) : undefined
        if (!rt) return r
        const offer = r.resolved.offer
        const upstream = { url: rt.url, healthPath: '/health', timeoutSeconds: offer.spec.upstream?.timeoutSeconds ?? 300 }
        const inference = { countPromptTokens: rt.countPromptTokens.bind(rt), continuousUsage: true }
        return { ...r, resolved: { ...r.resolved, offer: { ...offer, spec: { ...offer.spec, upstream } } }, inference }
      })
    },
    version: () => `${health.version()}.${upstreamModels.version()}.${embeddedVersion}`,
    settled: async () => { await Promise.all([health.settled(), upstreamModels.settled()]) },
    stop() {
      health.stop()
      upstreamModels.stop()
    },
    async close() {
      await embedded.close()
      await check.close()
    },
  }
}

function modelTarget(o: ServiceOffer, env: NodeJS.ProcessEnv): ModelTarget {
  const up = o.spec.upstream!
  const api = o.spec.model?.api ?? 'openai'
  const model = o.spec.model?.name ?? ''
  const id = `${up.url}|${api}|${model}|${JSON.stringify(up.headers ?? {})}`
  try {
    return { id, model, target: { url: up.url, api, headers: resolveSecretHeaders(up.headers, env), timeoutMs: 2000 } }
  } catch (err) {
    return { id, model, target: { url: up.url, api }, secretError: (err as Error).message }
  }
}
