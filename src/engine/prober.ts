/**
 * Upstream health: GET <upstream.url><healthPath>, healthy on 2xx only, 2 s timeout. Each distinct URL is probed
 * once however many offers share it, with a cap on concurrent probes. New or changed targets are probed at once,
 * all targets again every interval; a change of any result calls onChange (the daemon then reconciles).
 */
import { Agent, request } from 'undici'
import type { HealthObservation } from '../reconciler/types.ts'

export type HealthProberOptions = {
  timeoutMs?: number
  intervalMs?: number
  concurrency?: number
  onChange: () => void
}

export type HealthProber = {
  /** The health URL of every offer that has an upstream (offer key -> URL). Probes new URLs now. */
  setTargets(targets: ReadonlyMap<string, string>): void
  /** Probe these offers' URLs again now (their file changed). */
  reprobe(keys: Iterable<string>): void
  /** Observations per offer key; offers whose URL was never answered are absent (Unknown). */
  observations(): ReadonlyMap<string, HealthObservation>
  /** Increases whenever an observation changes. */
  version(): number
  /** Resolves when every probe started so far has finished. */
  settled(): Promise<void>
  stop(): void
}

export function healthUrl(upstreamUrl: string, healthPath: string): string {
  return upstreamUrl.replace(/\/+$/, '') + healthPath
}

export function createHealthProber({ timeoutMs = 2000, intervalMs = 5000, concurrency = 16, onChange }: HealthProberOptions): HealthProber {
  let targets: ReadonlyMap<string, string> = new Map()
  const results = new Map<string, HealthObservation>()
  const queue: string[] = []
  const queued = new Set<string>()
  const running = new Set<Promise<void>>()
  let waiters: (() => void)[] = []
  let stopped = false
  let version = 0
  const agent = new Agent({ keepAliveTimeout: intervalMs * 2, connections: 2 })

  const enqueue = (url: string): void => {
    if (stopped || queued.has(url)) return
    queued.add(url)
    queue.push(url)
    pump()
  }

  function pump(): void {
    while (running.size < concurrency && queue.length) {
      const url = queue.shift()!
      queued.delete(url)
      const p: Promise<void> = probe(agent, url, timeoutMs).then((obs) => {
        running.delete(p)
        const flipped = changed(results.get(url), obs)
        results.set(url, obs)
        if (flipped) version++
        if (flipped && !stopped) onChange()
        pump()
      })
      running.add(p)
    }
    if (!running.size && !queue.length) {
      const w = waiters
      waiters = []
      for (const f of w) f()
    }
  }

  const timer = setInterval(() => { for (const url of new Set(targets.values())) enqueue(url) }, intervalMs)
  timer.unref()

  return {
    setTargets(next) {
      targets = next
      const live = new Set(next.values())
      for (const url of live) if (!results.has(url)) enqueue(url)
      for (const url of results.keys()) if (!live.has(url)) results.delete(url)
      version++
    },
    reprobe(keys) {
      for (const k of keys) {
        const url = targets.get(k)
        if (url) enqueue(url)
      }
    },
    observations() {
      const out = new Map<string, HealthObservation>()
      for (const [key, url] of targets) {
        const r = results.get(url)
        if (r) out.set(key, r)
      }
      return out
    },
    version: () => version,
    settled() {
      if (!running.size && !queue.length) return Promise.resolve()
      return new Promise((resolve) => waiters.push(resolve))
    },
    stop() {
      stopped = true
      clearInterval(timer)
      queue.length = 0
      queued.clear()
      pump()
      void agent.close()
    },
  }
}

function changed(a: HealthObservation | undefined, b: HealthObservation): boolean {
  return !a || a.healthy !== b.healthy || a.status !== b.status || a.error !== b.error
}

async function probe(agent: Agent, url: string, timeoutMs: number): Promise<HealthObservation> {
  const checkedAt = Date.now()
  try {
    const res = await request(url, { dispatcher: agent, method: 'GET', signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
    await res.body.dump()
    const ok = res.statusCode >= 200 && res.statusCode < 300
    return { healthy: ok, checkedAt, status: res.statusCode }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const reason = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : (e.code ?? e.message)
    return { healthy: false, checkedAt, error: reason }
  }
}
