/**
 * Per-offer admission limits: concurrent requests (maxInFlight) and a token bucket (rps, burst = max(1, rps)).
 * A limiter lives across route-table swaps so in-flight counts stay correct.
 */
export type Limiter = {
  maxInFlight: number | undefined
  rps: number | undefined
  inFlight: number
  tokens: number
  last: number
}

export function createLimiter(maxInFlight: number | undefined, rps: number | undefined): Limiter {
  return { maxInFlight, rps, inFlight: 0, tokens: rps === undefined ? 0 : Math.max(1, rps), last: performance.now() }
}

/** Apply new limits to an existing limiter (keeps its in-flight count). */
export function updateLimiter(l: Limiter, maxInFlight: number | undefined, rps: number | undefined): void {
  if (l.rps !== rps) { l.tokens = rps === undefined ? 0 : Math.max(1, rps); l.last = performance.now() }
  l.maxInFlight = maxInFlight
  l.rps = rps
}

/** Admit one request: 0 when admitted (caller must release()), else the Retry-After in whole seconds. */
export function acquire(l: Limiter): number {
  if (l.maxInFlight !== undefined && l.inFlight >= l.maxInFlight) return 1
  if (l.rps !== undefined) {
    const now = performance.now()
    const burst = Math.max(1, l.rps)
    l.tokens = Math.min(burst, l.tokens + ((now - l.last) / 1000) * l.rps)
    l.last = now
    if (l.tokens < 1) return Math.max(1, Math.ceil((1 - l.tokens) / l.rps))
    l.tokens -= 1
  }
  l.inFlight++
  return 0
}

export function release(l: Limiter): void {
  l.inFlight--
}
