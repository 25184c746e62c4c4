/**
 * The daemon's embedded runtimes, kept in line with the offers on each reconcile pass: an inference offer with
 * spec.model.file gets one runtime (started in the background), a changed file/threads/context restarts it,
 * a removed offer closes it. No inference-specific startup path: `stack up` reconciles, and the models load.
 * The engine reads the ModelReady observation and the runtime URL (the offer's effective upstream) from here.
 */
import type { ResolvedOffer } from '../offer/resolveOffer.ts'
import type { ModelObservation } from '../reconciler/types.ts'
import { BaseError } from '../errors/base.ts'
import { EmbeddedRuntimeError, startEmbeddedModel, type EmbeddedModel, type EmbeddedModelOptions } from './embeddedRuntime.ts'

export type EmbeddedModelSpec = { key: string } & EmbeddedModelOptions

export type EmbeddedModels = {
  /** Start, restart and close runtimes to match the specs. Returns at once; onChange fires when a load ends. */
  sync(specs: readonly EmbeddedModelSpec[]): void
  /** The running runtime of an offer (its url is the offer's upstream), if loaded. */
  runtime(key: string): EmbeddedModel | undefined
  /** ModelReady for an offer with a model file: Loading, Loaded, or why it cannot load. */
  observation(key: string): ModelObservation | undefined
  /** Close every runtime (daemon shutdown). */
  close(): Promise<void>
}

/** The embedded-model specs of the resolved offers (inference offers with spec.model.file). */
export function embeddedModelSpecs(offers: Iterable<ResolvedOffer>): EmbeddedModelSpec[] {
  const out: EmbeddedModelSpec[] = []
  for (const r of offers) {
    const m = r.offer.spec.model
    if (r.offer.spec.type !== 'inference' || !m?.file) continue
    out.push({
      key: r.key, file: m.file, modelName: m.name, threads: m.threads ?? 1,
      ...(m.contextSize !== undefined ? { contextSize: m.contextSize } : {}),
    })
  }
  return out
}

type Slot = { id: string; spec: EmbeddedModelSpec; state: ModelObservation; runtime?: EmbeddedModel; closed: boolean }

export function createEmbeddedModels(options: { onChange?: () => void; start?: (o: EmbeddedModelOptions) => Promise<EmbeddedModel> } = {}): EmbeddedModels {
  const start = options.start ?? startEmbeddedModel
  const slots = new Map<string, Slot>()
  const closing = new Set<Promise<void>>()

  const identity = (s: EmbeddedModelSpec) => JSON.stringify([s.file, s.modelName, s.threads ?? 1, s.contextSize ?? null])

  const stop = (slot: Slot) => {
    slot.closed = true
    if (!slot.runtime) return
    const p = slot.runtime.close().catch(() => undefined).finally(() => closing.delete(p))
    closing.add(p)
  }

  const loading = new Set<Promise<void>>()
  const load = (slot: Slot) => {
    const p: Promise<void> = start(slot.spec).then((runtime) => {
      if (slot.closed) { stop({ ...slot, runtime }); return }
      slot.runtime = runtime
      slot.state = { ready: true, reason: 'Loaded', message: `Model ${slot.spec.modelName} is served from ${slot.spec.file} inside the daemon.` }
      options.onChange?.()
    }, (err: unknown) => {
      if (slot.closed) return
      slot.state = {
        ready: false,
        reason: err instanceof EmbeddedRuntimeError ? err.reason : 'LoadFailed',
        message: err instanceof BaseError ? err.line() : `The model could not be loaded: ${String(err)}.`,
      }
      options.onChange?.()
    }).finally(() => loading.delete(p))
    loading.add(p)
  }

  return {
    sync(specs) {
      const wanted = new Map(specs.map((s) => [s.key, s]))
      for (const [key, slot] of slots) {
        const next = wanted.get(key)
        if (!next || identity(next) !== slot.id) { stop(slot); slots.delete(key) }
      }
      for (const spec of specs) {
        if (slots.has(spec.key)) continue
        const slot: Slot = { id: identity(spec), spec, closed: false, state: { ready: false, reason: 'Loading', message: `Loading ${spec.file}.` } }
        slots.set(spec.key, slot)
        load(slot)
      }
    },
    runtime: (key) => slots.get(key)?.runtime,
    observation: (key) => slots.get(key)?.state,
    async close() {
      for (const slot of slots.values()) stop(slot)
      slots.clear()
      await Promise.all([...loading])
      await Promise.all([...closing])
    },
  }
}
