/**
 * Paid-route benchmark: Vend's gateway + payments vs express + @x402/express 2.27 with the SDK's in-process
 * facilitator, each on a fresh anvil (same contracts, same settler key). Payment headers are signed before the
 * timed run with the official client (x402Client + the @x402/evm exact scheme), one per request, from the
 * server's own 402 challenge. autocannon sends a fixed number of requests at the given concurrency; afterwards
 * the payTo balance delta on chain is reconciled against successes x price: more moved than served = double
 * charges, less = served unpaid.
 * Also: paid SSE time to first event vs the same upstream direct.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { startServer } from '../src/gateway/testKit.ts'
import { toAtomic } from '../src/offer/price.ts'
import { spawnServer } from './freeRoute.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import type { PaidServerConfig } from './lib/paidServers.ts'
import { presign as presignFor } from './lib/presign.ts'
import { upstreamHandler } from './lib/upstream.ts'

/** Headers from the test chain's buyer. */
export const presign = (chain: TestChain, url: string, count: number): Promise<string[]> =>
  presignFor({ privateKey: chain.buyer.privateKey, caip2: chain.caip2, usdc: chain.usdc.address }, url, count)

const SERVER = fileURLToPath(new URL('./lib/paidServers.ts', import.meta.url))
export const PRICE = '0.001'

export type PaidServer = { base: string; paidUrl: string; child: ChildProcess; stop(): Promise<void> }

export async function startPaidServer(cfg: Omit<PaidServerConfig, 'chain'> & { chain: TestChain }): Promise<PaidServer> {
  const { chain } = cfg
  const env = { ...process.env, VEND_BENCH: JSON.stringify({ ...cfg, chain: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, caip2: chain.caip2, usdc: chain.usdc, settler: chain.settler, payTo: chain.payTo } }) }
  const child = fork(SERVER, [], { execArgv: ['--import', 'tsx', ...(process.env.PROF_SERVER ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.PROF_SERVER] : [])], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const { url, paidPath } = await new Promise<{ url: string; paidPath: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; paidPath: string }))
    child.once('exit', (code) => reject(new Error(`${cfg.kind} server exited with ${code}`)))
  })
  const stop = () => new Promise<void>((r) => { if (child.exitCode !== null) { r(); return } child.once('exit', () => r()); child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 5000).unref() })
  return { base: url, paidUrl: url + paidPath, child, stop }
}

export type PaidRun = { concurrency: number; requests: number; ok: number; failed: number; reqPerSec: number; p50: number; p99: number; doubleCharges: number; servedUnpaid: number }

/** One bounded paid run: every request carries its own pre-signed header; reconciled on chain afterwards. */
async function paidRun(chain: TestChain, server: PaidServer, concurrency: number, requests: number): Promise<PaidRun> {
  // autocannon builds one spare request per connection: sign enough that no header is ever sent twice.
  const headers = await presign(chain, server.paidUrl, requests + 2 * concurrency + 10)
  const price = toAtomic(PRICE, chain.usdc.decimals)
  const before = await chain.balanceOf(chain.payTo.address)
  let i = 0
  const t0 = performance.now()
  let last = t0
  const r = await autocannon({
    url: server.paidUrl, connections: concurrency, amount: requests, timeout: 30,
    requests: [{
      setupRequest: (req: Record<string, unknown>) => ({ ...req, headers: { ...(req['headers'] as object), 'payment-signature': headers[i++] } }),
      onResponse: () => { last = performance.now() },
    }],
  })
  // from the first request to the last answer: autocannon itself notices the end only at its next 1 s tick
  const seconds = (last - t0) / 1000
  const ok = r['2xx']
  // Settlement happens before the 2xx (onSuccess); batched ones land within a block: wait for the balance to settle.
  let delta = -1n
  for (let k = 0; k < 50; k++) {
    const d = (await chain.balanceOf(chain.payTo.address)) - before
    if (d === delta && d >= BigInt(ok) * price) break
    delta = d
    await new Promise((res) => setTimeout(res, 200))
  }
  const paidCount = Number(delta / price)
  return {
    concurrency, requests, ok, failed: requests - ok, reqPerSec: Math.round(ok / seconds), p50: r.latency.p50, p99: r.latency.p99,
    doubleCharges: Math.max(0, paidCount - ok), servedUnpaid: Math.max(0, ok - paidCount),
  }
}

/**
 * A fresh chain and a paid server on it. Vend proxies to the upstream in its own process, as deployed; the stock
 * middleware runs its handler in-process, which is how it is used.
 */
async function withStack<T>(kind: 'vend' | 'express', fn: (chain: TestChain, server: PaidServer) => Promise<T>): Promise<T> {
  const chain = await startTestChain({ buyerFunds: 1_000_000_000n })
  const upstream = kind === 'vend' ? await spawnServer('upstream') : undefined
  try {
    const server = await startPaidServer({ kind, chain, price: PRICE, ...(upstream ? { upstreamUrl: upstream.url } : {}) })
    try { return await fn(chain, server) } finally { await server.stop() }
  } finally {
    upstream?.child.kill('SIGTERM')
    await chain.stop()
  }
}

export type PaidScenario = { vend: PaidRun; express: PaidRun[] }

export async function paidScenario({ vendRequests, expressRequests, concurrency = 16 }: { vendRequests: number; expressRequests: number; concurrency?: number }): Promise<PaidScenario> {
  // Fresh chain per run: anvil slows as the chain grows.
  const vend = await withStack('vend', async (chain, s) => { await paidRun(chain, s, 4, 50); return paidRun(chain, s, concurrency, vendRequests) })
  const express: PaidRun[] = []
  for (const c of [1, concurrency]) express.push(await withStack('express', (chain, s) => paidRun(chain, s, c, expressRequests)))
  return { vend, express }
}

/** Milliseconds from sending the request to the first SSE `data:` line. */
export async function timeToFirstEvent(url: string, init: RequestInit = {}): Promise<number> {
  const t0 = performance.now()
  const res = await fetch(url, init)
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  const reader = res.body!.getReader()
  let text = ''
  let first = NaN
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += Buffer.from(value).toString()
    if (Number.isNaN(first) && text.includes('data:')) first = performance.now() - t0
  }
  return first
}

export const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }

/** Paid SSE (Vend, paid route, settles when the stream ends) vs the upstream direct: median time to first event. */
export async function sseScenario({ samples }: { samples: number }): Promise<{ paidMs: number; freeMs: number; directMs: number; expressMs: number }> {
  const upstream = await startServer(upstreamHandler)
  try {
    const { paidMs, freeMs } = await withStack('vend', async (chain, s) => {
      const headers = await presign(chain, `${s.paidUrl}sse`, samples + 1)
      await timeToFirstEvent(`${s.paidUrl}sse`, { headers: { 'payment-signature': headers.pop()! } })
      const xs: number[] = []
      const free: number[] = []
      const freeUrl = `${s.base}/services/free/sse`
      await timeToFirstEvent(freeUrl)
      for (const h of headers) {
        xs.push(await timeToFirstEvent(`${s.paidUrl}sse`, { headers: { 'payment-signature': h } }))
        free.push(await timeToFirstEvent(freeUrl))
      }
      return { paidMs: median(xs), freeMs: median(free) }
    })
    const expressMs = await withStack('express', async (chain, s) => {
      const headers = await presign(chain, `${s.paidUrl}/sse`, 3)
      const xs: number[] = []
      for (const h of headers) xs.push(await timeToFirstEvent(`${s.paidUrl}/sse`, { headers: { 'payment-signature': h } }))
      return median(xs)
    })
    await timeToFirstEvent(`${upstream.url}/sse`)
    const xs: number[] = []
    for (let i = 0; i < samples; i++) xs.push(await timeToFirstEvent(`${upstream.url}/sse`))
    return { paidMs, freeMs, directMs: median(xs), expressMs }
  } finally { await upstream.close() }
}

export { withStack }
