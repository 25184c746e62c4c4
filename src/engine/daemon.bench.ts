/**
 * Engine benchmarks (targets from the [core] issue):
 * - reconcile 10,000 offer files in < 2 s with RSS < 300 MB: an in-process daemon starts on a home holding
 *   10,000 files (all sharing one healthy upstream) until its first pass is done, then every offer is served;
 * - `stack up` to ready with 1,000 offers in < 3 s: the real background daemon (`bin/vend serve`), from spawn to
 *   the control socket reporting ready (module loading included).
 *
 *   node --import tsx src/engine/daemon.bench.ts [offers=10000] [upOffers=1000]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HomePaths } from '../state/home.ts'
import { embeddedEngine } from './embedded.ts'
import { startUpstream, tempHome } from './testkit.ts'

export type EngineBenchRow = { target: string; ms: number; rssMB?: number }

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
      const t0 = performance.now()
      const daemon = await startDaemon(big.paths)
      rows.push({ target: `first pass, ${offers} offer files (in-process daemon start to ready)`, ms: Math.round(performance.now() - t0), rssMB: Math.round(process.memoryUsage().rss / 1e6) })
      const t1 = performance.now()
      await daemon.reconcile()
      const served = daemon.status().offers?.filter((o) => o.ready).length
      rows.push({ target: `explicit pass until all ${served} offers are ready (health known)`, ms: Math.round(performance.now() - t1), rssMB: Math.round(process.memoryUsage().rss / 1e6) })
      const t2 = performance.now()
      await daemon.reconcile()
      rows.push({ target: 'resync pass, nothing changed', ms: Math.round(performance.now() - t2), rssMB: Math.round(process.memoryUsage().rss / 1e6) })
      await daemon.stop()
    } finally {
      big.cleanup()
    }

    const home = tempHome('vend-bench-')
    try {
      writeOffers(home.paths, upOffers, up.url)
      const engine = embeddedEngine(home.paths)
      const t0 = performance.now()
      await engine.up({})
      rows.push({ target: `stack up to ready, ${upOffers} offers (background daemon)`, ms: Math.round(performance.now() - t0) })
      await engine.down()
    } finally {
      home.cleanup()
    }
  } finally {
    await up.close()
  }
  return { name: 'engine', rows }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [offers, upOffers] = process.argv.slice(2).map(Number)
  const { rows } = await engineScenario({ ...(offers ? { offers } : {}), ...(upOffers ? { upOffers } : {}) })
  for (const r of rows) console.log(`${String(r.ms).padStart(6)} ms${r.rssMB ? `  rss ${r.rssMB} MB` : ''}  ${r.target}`)
}
