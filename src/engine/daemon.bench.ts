/**
 * Engine benchmarks (targets from the [core] issue):
 * - reconcile 10,000 offer files in < 2 s with RSS < 300 MB: an in-process daemon starts on a home holding
 *   10,000 files (all sharing one healthy upstream) until its first pass is done, then every offer is served;
 * - `stack up` to ready with 1,000 offers in < 3 s: the real background daemon (`bin/vend serve`), from spawn to
 *   the control socket reporting ready (module loading included); the same with 10,000 offers, with the daemon's
 *   resident and peak memory.
 *
 *   node --import tsx src/engine/daemon.bench.ts [offers=10000] [upOffers=1000]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HomePaths } from '../state/home.ts'
import { embeddedEngine } from './embedded.ts'
import { startUpstream, tempHome } from './testkit.ts'

/** cpuMs: CPU time the work took (user + system), a load-independent estimate of its wall time on an idle core. */
export type EngineBenchRow = { target: string; ms: number; cpuMs?: number; rssMB?: number; peakRssMB?: number }

const cpuMsSince = (start: NodeJS.CpuUsage): number => { const u = process.cpuUsage(start); return Math.round((u.user + u.system) / 1000) }

/** CPU time a process has used so far (Linux /proc, clock ticks of 10 ms). */
function processCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

/** Resident and peak resident memory of a process (Linux /proc). */
function processMemory(pid: number): { rssMB?: number; peakRssMB?: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { rssMB: Math.round(kb('VmRSS') / 1024), peakRssMB: Math.round(kb('VmHWM') / 1024) }
  } catch {
    return {}
  }
}

async function backgroundUp(offers: number, upstream: string): Promise<EngineBenchRow> {
  const home = tempHome('vend-bench-')
  try {
    writeOffers(home.paths, offers, upstream)
    const engine = embeddedEngine(home.paths)
    const t0 = performance.now()
    const up = await engine.up({})
    const ms = Math.round(performance.now() - t0)
    const cpuMs = processCpuMs(up.pid)
    // Let the health results arrive and the second pass (every offer healthy) finish before reading memory.
    await new Promise((r) => setTimeout(r, 3000))
    const row = { target: `stack up to ready, ${offers} offers (background daemon; memory after 3 s)`, ms, ...(cpuMs === undefined ? {} : { cpuMs }), ...processMemory(up.pid) }
    await engine.down()
    return row
  } finally {
    home.cleanup()
  }
}

function writeOffers(paths: HomePaths, count: number, upstream: string): void {
  for (let i = 0; i < count; i++) {
    const ns = `team-${i % 20}`
    mkdirSync(join(paths.offersDir, ns), { recursive: true })
    writeFileSync(join(paths.offersDir, ns, `offer-${i}.yaml`), `apiVersion: vend.dev/v1alpha1
kind: ServiceOffer
metadata:
  name: offer-${i}
  namespace: ${ns}
spec:
  type: http
  upstream:
    url: ${upstream}
  payment:
    network: base-sepolia
    payTo: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    price:
      perRequest: "0.001"
  registration:
    enabled: false
`)
  }
}

export async function engineScenario({ offers = 10_000, upOffers = 1000 } = {}): Promise<{ name: string; rows: EngineBenchRow[] }> {
  const rows: EngineBenchRow[] = []
  const up = await startUpstream()
  try {
    const { startDaemon } = await import('./daemon.ts')
    const big = tempHome('vend-bench-')
    try {
      writeOffers(big.paths, offers, up.url)
      const rss = () => Math.round(process.memoryUsage().rss / 1e6)
      let t = performance.now()
      let c = process.cpuUsage()
      const daemon = await startDaemon(big.paths)
      rows.push({ target: `first pass, ${offers} offer files (in-process daemon start to ready)`, ms: Math.round(performance.now() - t), cpuMs: cpuMsSince(c), rssMB: rss() })
      t = performance.now()
      c = process.cpuUsage()
      await daemon.reconcile()
      const served = daemon.status().offers?.filter((o) => o.ready).length
      rows.push({ target: `explicit pass; ${served} offers ready`, ms: Math.round(performance.now() - t), cpuMs: cpuMsSince(c), rssMB: rss() })
      t = performance.now()
      c = process.cpuUsage()
      await daemon.reconcile()
      rows.push({ target: 'resync pass, nothing changed', ms: Math.round(performance.now() - t), cpuMs: cpuMsSince(c), rssMB: rss() })
      await daemon.stop()
    } finally {
      big.cleanup()
    }

    rows.push(await backgroundUp(upOffers, up.url))
    rows.push(await backgroundUp(offers, up.url))
  } finally {
    await up.close()
  }
  return { name: 'engine', rows }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [offers, upOffers] = process.argv.slice(2).map(Number)
  const { rows } = await engineScenario({ ...(offers ? { offers } : {}), ...(upOffers ? { upOffers } : {}) })
  for (const r of rows) {
    console.log(`${String(r.ms).padStart(6)} ms  cpu ${String(r.cpuMs ?? '?').padStart(5)} ms  ${r.rssMB ? `rss ${r.rssMB} MB` : ''}${r.peakRssMB ? ` (peak ${r.peakRssMB} MB)` : ''}  ${r.target}`)
  }
}
