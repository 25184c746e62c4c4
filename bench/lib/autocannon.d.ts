// Minimal typing for the parts of autocannon's programmatic API the benchmarks use (autocannon ships no types).
declare module 'autocannon' {
  type Options = { url: string; connections?: number; duration?: number; pipelining?: number; workers?: number }
  type Histogram = { average: number; p50: number; p90: number; p99: number; max: number }
  type Result = { requests: Histogram & { total: number }; latency: Histogram; errors: number; timeouts: number; non2xx: number }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
