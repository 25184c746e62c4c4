/**
 * Background probes of the world the reconciler observes: upstream health (GET <upstream.url><healthPath>, 2xx
 * only, 2 s timeout) and, for inference offers, whether the upstream serves the model. Each distinct target is
 * probed once however many offers share it, with a cap on concurrent probes. New targets are probed at once,
 * every target again each interval; a changed result calls onChange (the daemon then reconciles).
 */
import { Agent, request } from 'undici'
import type { HealthObservation } from '../reconciler/types.ts'

export type ProberOptions<T, O> = {
  /** Probe one target; must not throw. */
  probe: (target: T) => Promise<O>
  /** Targets with the same id are probed once. */
  idOf: (target: T) => string
  /** Whether a new result differs from the last one in a way the reconciler sees. */
  differs: (previous: O | undefined, next: O) => boolean
  intervalMs?: number
  concurrency?: number
  onChange: () => void
}

export type Prober<T, O> = {
  /** The target of every offer that has one (offer key -> target). Probes new targets now. */
  setTargets(targets: ReadonlyMap<string, T>): void
  /** Probe these offers' targets again now (their file changed). */
  reprobe(keys: Iterable<string>): void
  /** Results per offer key; offers whose target has no result yet are absent (Unknown). */
  observations(): ReadonlyMap<string, O>
  /** Increases whenever a result changes. */
  version(): number
  /** Resolves when every probe started so far has finished. */
  settled(): Promise<void>
  stop(): void
}

export function createProber<T, O>({ probe, idOf, differs, intervalMs = 5000, concurrency = 16, onChange }: ProberOptions<T, O>): Prober<T, O> {
  let targets = new Map<string, string>() // offer key -> target id
  const byId = new Map<string, T>()
  const results = new Map<string, O>()
  const queue: string[] = []
  const queued = new Set<string>()
  let running = 0
  let waiters: (() => void)[] = []
  let stopped = false
  let version = 0

  const enqueue = (id: string): void => {
    if (stopped || queued.has(id)) return
    queued.add(id)
    queue.push(id)
    pump()
  }

  function pump(): void {
    while (running < concurrency && queue.length) {
      const id = queue.shift()!
      queued.delete(id)
      const target = byId.get(id)
      if (target === undefined) continue
      running++
      void probe(target).then((obs) => {
        running--
        if (byId.has(id)) {
          const changed = differs(results.get(id), obs)
          results.set(id, obs)
          if (changed) version++
          if (changed && !stopped) onChange()
        }
        pump()
      })
    }
    if (!running && !queue.length) {
      const w = waiters
      waiters = []
      for (const f of w) f()
    }
  }

  const timer = setInterval(() => { for (const id of byId.keys()) enqueue(id) }, intervalMs)
  timer.unref()

  return {
    setTargets(next) {
      targets = new Map()
      const live = new Map<string, T>()
      for (const [key, t] of next) {
        const id = idOf(t)
        targets.set(key, id)
        live.set(id, t)
      }
      for (const id of byId.keys()) if (!live.has(id)) { byId.delete(id); results.delete(id) }
      for (const [id, t] of live) {
        const fresh = !byId.has(id)
        byId.set(id, t)
        if (fresh) enqueue(id)
      }
      version++
    },
    reprobe(keys) {
      for (const k of keys) {
        const id = targets.get(k)
        if (id !== undefined) enqueue(id)
      }
    },
    observations() {
      const out = new Map<string, O>()
      for (const [key, id] of targets) {
        const r = results.get(id)
        if (r !== undefined) out.set(key, r)
      }
      return out
    },
    version: () => version,
    settled() {
      if (!running && !queue.length) return Promise.resolve()
      return new Promise((resolve) => waiters.push(resolve))
    },
    stop() {
      stopped = true
      clearInterval(timer)
      queue.length = 0
      queued.clear()
      pump()
    },
  }
}

export function healthUrl(upstreamUrl: string, healthPath: string): string {
  return upstreamUrl.replace(/\/+$/, '') + healthPath
}

/** GET the health URL: healthy on 2xx only. Owns a keep-alive agent; close() it when done. */
export function createHealthCheck(timeoutMs = 2000): { probe: (url: string) => Promise<HealthObservation>; close: () => Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 2 })
  return {
    async probe(url) {
      const checkedAt = Date.now()
      try {
        const res = await request(url, { dispatcher: agent, method: 'GET', signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
        await res.body.dump()
        return { healthy: res.statusCode >= 200 && res.statusCode < 300, checkedAt, status: res.statusCode }
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        const reason = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : (e.code ?? e.message)
        return { healthy: false, checkedAt, error: reason }
      }
    },
    close: () => agent.close(),
  }
}

export function healthDiffers(a: HealthObservation | undefined, b: HealthObservation): boolean {
  return !a || a.healthy !== b.healthy || a.status !== b.status || a.error !== b.error
}
