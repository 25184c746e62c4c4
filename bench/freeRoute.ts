/**
 * Free-route proxy benchmark: direct upstream vs a bare undici Pool.stream proxy vs the gateway's free route,
 * each server in its own process, loaded one after the other by autocannon from this process (3 interleaved
 * rounds, median per target). Loopback on a shared machine: compare ratios, not absolute numbers; CPU time per
 * request of the server process is the steadiest of the figures when other work competes for the cores.
 * Run: node --import tsx bench/freeRoute.ts [durationSec] [connections]
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

/** cpuUsPerReq: CPU time (user + system) of the target's server process per request: robust when the machine is busy. */
export type BenchRow = { target: string; reqPerSec: number; p50: number; p99: number; cpuUsPerReq: number }
export type BenchResult = { name: string; rows: BenchRow[] }

const SERVERS = fileURLToPath(new URL('./lib/proxyServers.ts', import.meta.url))

/** A server of bench/lib/proxyServers.ts in its own process. */
export async function spawnServer(kind: string, upstream = ''): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(SERVERS, [kind, upstream], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, child }
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve((m as { cpuUs: number }).cpuUs))
    child.send('cpu')
  })
}

async function load(url: string, child: ChildProcess, durationSec: number, connections: number): Promise<BenchRow & { errors: number }> {
  const cpu0 = await cpuOf(child)
  const r = await autocannon({ url, connections, duration: durationSec, pipelining: 1 })
  const cpuUs = (await cpuOf(child)) - cpu0
  return {
    target: url, reqPerSec: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99,
    cpuUsPerReq: Math.round((cpuUs / Math.max(1, r.requests.total)) * 10) / 10, errors: r.errors + r.timeouts + r.non2xx,
  }
}

const ROUNDS = 3

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

function medianRow(target: string, rows: BenchRow[]): BenchRow {
  return {
    target, reqPerSec: median(rows.map((r) => r.reqPerSec)), p50: median(rows.map((r) => r.p50)),
    p99: median(rows.map((r) => r.p99)), cpuUsPerReq: median(rows.map((r) => r.cpuUsPerReq)),
  }
}

export async function freeRouteScenario({ durationSec, connections }: { durationSec: number; connections: number }): Promise<BenchResult> {
  const children: ChildProcess[] = []
  try {
    const upstream = await spawnServer('upstream')
    children.push(upstream.child)
    const [undici, gateway] = await Promise.all([spawnServer('undici', upstream.url), spawnServer('gateway', upstream.url)])
    children.push(undici.child, gateway.child)
    const targets = [
      { target: 'direct upstream', url: `${upstream.url}/`, child: upstream.child },
      { target: 'bare undici Pool.stream proxy', url: `${undici.url}/`, child: undici.child },
      { target: 'vend gateway free route', url: `${gateway.url}/services/bench/`, child: gateway.child },
    ]
    for (const t of targets) await load(t.url, t.child, 2, connections) // warm-up: JIT, keep-alive pools
    const runs = new Map<string, BenchRow[]>(targets.map((t) => [t.target, []]))
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no target always runs right after the same neighbour.
      for (const t of [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)]) {
        const r = await load(t.url, t.child, durationSec, connections)
        if (r.errors) throw new Error(`${t.target}: ${r.errors} errors/timeouts/non-2xx responses`)
        runs.get(t.target)!.push({ target: t.target, reqPerSec: r.reqPerSec, p50: r.p50, p99: r.p99, cpuUsPerReq: r.cpuUsPerReq })
      }
    }
    return {
      name: `free route proxy (${connections} connections, ${ROUNDS} interleaved rounds of ${durationSec} s, medians)`,
      rows: targets.map((t) => medianRow(t.target, runs.get(t.target)!)),
    }
  } finally {
    for (const c of children) c.kill('SIGTERM')
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const durationSec = Number(process.argv[2] ?? 5)
  const connections = Number(process.argv[3] ?? 50)
  const result = await freeRouteScenario({ durationSec, connections })
  console.log(result.name)
  const bare = result.rows[1]!
  for (const r of result.rows) {
    console.log(`${r.target.padEnd(32)} ${String(r.reqPerSec).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  ${r.cpuUsPerReq} µs CPU/req  (${(r.reqPerSec / bare.reqPerSec).toFixed(2)}x bare req/s, ${(r.p99 / bare.p99).toFixed(2)}x bare p99, ${(r.cpuUsPerReq / bare.cpuUsPerReq).toFixed(2)}x bare CPU/req)`)
  }
}
