/**
 * Test helpers for the engine's tests (not used at runtime): a temp VEND_HOME, a real upstream server, offer
 * files, polling with a deadline.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { API_VERSION, KIND } from '../offer/schema.ts'
import { homePaths, type HomePaths } from '../state/home.ts'
import { writeOffer } from '../state/offerStore.ts'
import { StackConfig, writeStackConfig } from '../state/stackConfig.ts'

export const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

/**
 * A facilitator URL on loopback where nothing listens: offers get PaymentGateReady (an unreachable facilitator
 * does not unpublish routes) and no test ever reaches for the public testnet facilitator.
 */
export const UNREACHABLE_FACILITATOR = 'http://127.0.0.1:9/facilitator'

export function tempHome(prefix = 'vend-engine-'): { paths: HomePaths; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), prefix))
  const paths = homePaths(root)
  writeStackConfig(paths, StackConfig.parse({ listen: '127.0.0.1:0', facilitators: [{ network: '*', url: UNREACHABLE_FACILITATOR }] }))
  return { paths, cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

export type Upstream = { url: string; hits: string[]; server: Server; close: () => Promise<void> }

/**
 * A real upstream: /health answers 200, /v1/models lists the model "tiny-chat" (OpenAI-compatible), /slow answers
 * after `slowMs`, everything else echoes its path.
 */
export async function startUpstream(slowMs = 300): Promise<Upstream> {
  const hits: string[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    hits.push(req.url ?? '')
    if (req.url === '/health') return void res.end('ok')
    if (req.url === '/v1/models') return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'tiny-chat', object: 'model' }] }))
    if (req.url?.startsWith('/slow')) {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('slow:')
      return void setTimeout(() => res.end('done'), slowMs)
    }
    res.end(JSON.stringify({ path: req.url }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`, hits, server,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

export function offerDoc(name: string, namespace: string, upstream: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace },
    spec: {
      type: 'http', upstream: { url: upstream },
      payment: { network: 'base-sepolia', payTo: PAY_TO, price: { perRequest: '0.001' } },
      registration: { enabled: false },
      ...extra,
    },
  }
}

export function putOffer(paths: HomePaths, name: string, namespace: string, upstream: string, extra: Record<string, unknown> = {}): void {
  writeOffer(paths, offerDoc(name, namespace, upstream, extra))
}

/** Poll until `check` returns a value other than undefined/false; fails after `deadlineMs` with `what`. */
export async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, deadlineMs = 15_000): Promise<T> {
  const end = Date.now() + deadlineMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
