/**
 * Helpers for gateway tests and the free-route benchmark: real node:http upstreams on 127.0.0.1, offers built
 * through the real parser and resolver, and a raw HTTP client that can send any header.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { stringify } from 'yaml'
import { parseOfferDocuments } from '../offer/parseOffers.ts'
import { resolveOffer, type ResolvedRoute } from '../offer/resolveOffer.ts'
import type { RouteEntry } from '../reconciler/types.ts'
import { createGateway, type Gateway, type GatewayOptions } from './createGateway.ts'

export type TestServer = { url: string; port: number; server: http.Server; close(): Promise<void> }

export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`, port, server,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

export type OfferParams = {
  name?: string
  path?: string
  upstream?: string
  network?: string
  price?: string
  /** Extra spec fields (merged). */
  spec?: Record<string, unknown>
  /** Routes set after resolution (the resolver's view), e.g. [{path: '/free/*', gate: 'free'}]. */
  routes?: { path: string; gate?: 'paid' | 'free'; methods?: string[] }[]
  state?: RouteEntry['state']
}

/** A RouteEntry from an offer document, through parseOfferDocuments + resolveOffer. */
export function routeEntry(p: OfferParams): RouteEntry {
  const spec: Record<string, unknown> = {
    type: 'http',
    upstream: { url: p.upstream ?? 'http://127.0.0.1:9' },
    payment: { network: p.network ?? 'base-sepolia', payTo: '0x1111111111111111111111111111111111111111', price: { perRequest: p.price ?? '0.01' } },
    ...(p.path ? { path: p.path } : {}),
    ...p.spec,
  }
  const text = stringify({ apiVersion: 'vend.dev/v1alpha1', kind: 'ServiceOffer', metadata: { name: p.name ?? 'weather' }, spec })
  const doc = parseOfferDocuments(text, 'test.yaml')[0]!
  if (!doc.ok) throw new Error(doc.problem.message)
  const resolved = resolveOffer(doc.offer)
  if (p.routes) {
    resolved.routes = p.routes.map((r): ResolvedRoute => ({
      path: r.path, gate: r.gate ?? 'paid', price: resolved.price, methods: r.methods, summary: undefined,
    }))
  }
  return { key: resolved.key, path: resolved.path, resolved, state: p.state ?? 'serving', draining: false }
}

export type TestGateway = { gw: Gateway; url: string; port: number; stop(): Promise<void> }

export async function startGateway(opts: Partial<GatewayOptions> = {}, routes?: RouteEntry[]): Promise<TestGateway> {
  let url = ''
  const gw = createGateway({ listen: '127.0.0.1:0', baseUrl: () => url, ...opts })
  const { port } = await gw.start()
  url = `http://127.0.0.1:${port}`
  if (routes) gw.setRoutes(routes)
  return { gw, url, port, stop: () => gw.stop(2_000) }
}

export type RawResponse = { status: number; headers: IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }

/** One request with exactly the given headers and the path as written (no URL normalization; node:http, no keep-alive). */
export function rawRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  const m = /^http:\/\/([^/:]+):(\d+)(\/.*)?$/.exec(url)
  if (!m) throw new Error(`rawRequest needs http://host:port/path, got ${url}`)
  return new Promise((resolve, reject) => {
    const options = { host: m[1], port: Number(m[2]), path: m[3] ?? '/', method: init.method ?? 'GET', headers: init.headers, agent: false }
    const req = http.request(options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), trailers: res.trailers }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}
