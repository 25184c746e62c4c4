/**
 * In-memory gateway metrics, rendered as Prometheus text on /metrics. Hand-rolled (plain counters and a
 * fixed-bucket histogram per offer) so recording costs a few increments on the hot path.
 */
export type Outcome =
  | 'free' | 'paid' | 'payment_required' | 'rate_limited' | 'not_ready' | 'unhealthy'
  | 'upstream_error' | 'upstream_timeout' | 'client_error' | 'server_error' | 'not_found' | 'aborted'

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const

export type OfferMetrics = {
  outcomes: Map<Outcome, number>
  /** Upstream time to response headers, seconds. */
  buckets: number[]
  sum: number
  count: number
}

export type Metrics = {
  forOffer(key: string): OfferMetrics
  count(m: OfferMetrics, outcome: Outcome): void
  observeUpstream(m: OfferMetrics, seconds: number): void
  render(inFlight: number): string
}

export function createMetrics(): Metrics {
  const offers = new Map<string, OfferMetrics>()
  const forOffer = (key: string): OfferMetrics => {
    let m = offers.get(key)
    if (!m) { m = { outcomes: new Map(), buckets: BUCKETS.map(() => 0), sum: 0, count: 0 }; offers.set(key, m) }
    return m
  }
  return {
    forOffer,
    count(m, outcome) { m.outcomes.set(outcome, (m.outcomes.get(outcome) ?? 0) + 1) },
    observeUpstream(m, seconds) {
      m.sum += seconds
      m.count++
      for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) { m.buckets[i]!++; break }
    },
    render(inFlight) {
      const lines: string[] = [
        '# HELP vend_gateway_requests_total Requests handled by the gateway, by offer and outcome.',
        '# TYPE vend_gateway_requests_total counter',
      ]
      const label = (k: string) => k.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
      for (const [key, m] of offers) for (const [o, n] of m.outcomes) lines.push(`vend_gateway_requests_total{offer="${label(key)}",outcome="${o}"} ${n}`)
      lines.push('# HELP vend_gateway_payment_required_total 402 challenges sent, by offer.', '# TYPE vend_gateway_payment_required_total counter')
      for (const [key, m] of offers) { const n = m.outcomes.get('payment_required'); if (n) lines.push(`vend_gateway_payment_required_total{offer="${label(key)}"} ${n}`) }
      lines.push('# HELP vend_gateway_upstream_latency_seconds Time from forwarding a request to the upstream response headers.',
        '# TYPE vend_gateway_upstream_latency_seconds histogram')
      for (const [key, m] of offers) {
        if (!m.count) continue
        let acc = 0
        for (let i = 0; i < BUCKETS.length; i++) { acc += m.buckets[i]!; lines.push(`vend_gateway_upstream_latency_seconds_bucket{offer="${label(key)}",le="${BUCKETS[i]}"} ${acc}`) }
        lines.push(`vend_gateway_upstream_latency_seconds_bucket{offer="${label(key)}",le="+Inf"} ${m.count}`,
          `vend_gateway_upstream_latency_seconds_sum{offer="${label(key)}"} ${m.sum}`,
          `vend_gateway_upstream_latency_seconds_count{offer="${label(key)}"} ${m.count}`)
      }
      lines.push('# HELP vend_gateway_in_flight Requests in progress.', '# TYPE vend_gateway_in_flight gauge', `vend_gateway_in_flight ${inFlight}`)
      return lines.join('\n') + '\n'
    },
  }
}
