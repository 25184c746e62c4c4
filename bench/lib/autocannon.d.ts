// Minimal typing for the parts of autocannon's programmatic API the benchmarks use (autocannon ships no types).
declare module 'autocannon' {
  type Request = { setupRequest?: (req: Record<string, unknown>) => Record<string, unknown>; onResponse?: (status: number, body: string) => void }
  type Options = {
    url: string; connections?: number; duration?: number; amount?: number; timeout?: number; pipelining?: number; workers?: number
    headers?: Record<string, string>; requests?: Request[]
  }
  type Histogram = { average: number; p50: number; p90: number; p99: number; max: number }
  type Result = {
    requests: Histogram & { total: number }; latency: Histogram; errors: number; timeouts: number; non2xx: number
    '2xx': number; duration: number
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
