/**
 * The gateway: one node:http listener in front of every published offer.
 *
 * Per request: system paths (/healthz, /readyz, /metrics, storefront) → offer by longest path prefix → sub-route
 * → health / limits → free: stream to the upstream; paid without payment: 402 challenge; paid with a payment
 * header: hand over to the PaymentGate. Inference offers first go through their OpenAI surface (gateway/inference.ts):
 * GET /v1/models here, the body validated and priced before any 402. The route table is compiled in setRoutes() and swapped by one reference
 * assignment, so a request never sees a half-built table.
 */
import { EventEmitter } from 'node:events'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { PaymentRequired, PaymentRequirements } from '@x402/core/types'
import { reservedPathReason } from '../offer/resolveOffer.ts'
import type { RouteEntry } from '../reconciler/types.ts'
import { BaseError, InvalidInputError } from '../errors/base.ts'
import { paymentRequiredFor, paymentRequirementsV1For, writeChallenge, type RenderPaymentPage, type V1Requirements } from './challenge.ts'
import { sendJson } from './http.ts'
import { acquire, release, type Limiter } from './limits.ts'
import { createMetrics, type Metrics, type Outcome } from './metrics.ts'
import { compileRouteTable, findOffer, matchRoute, type CompiledOffer, type CompiledRoute, type RouteTable } from './routeTable.ts'
import { exactAccepts, inferenceUpstreamPath, prepare, readBody } from './inference.ts'
import type { PreparedInference } from '../inference/prepareInference.ts'
import { inferenceRoute, modelsListBody, surfaceErrorBody } from '../inference/surface.ts'
import type { InferenceKind } from '../inference/validateRequest.ts'
import {
  createPools, forward, openUpstream, sendUpstream, sendUpstreamError, upstreamHeaders,
  UpstreamExchange, type OpenUpstreamOptions, type SendResult, type Trailers, type UpstreamError, type UpstreamResponse,
} from './upstream.ts'

export type { CompiledOffer, CompiledRoute } from './routeTable.ts'
export type { OpenUpstreamOptions, UpstreamResponse, SendResult, Trailers } from './upstream.ts'
export { UpstreamError } from './upstream.ts'
export type { PaymentPageInfo, RenderPaymentPage, V1Requirements } from './challenge.ts'

/** What a payment gate gets for a request to a paid route. */
export type ChallengeContext = {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  /** The matched route: `route.offer` is the offer (key, resolved, entry), `route.price` the price of this route. */
  route: CompiledRoute
  /** The x402 requirements for this request (v2 accepts entries, resource filled). */
  paymentRequired: PaymentRequired
  /** The same requirements in x402 v1 shape (v1 network name, maxAmountRequired), for X-PAYMENT payers. */
  paymentRequirementsV1: V1Requirements[]
  /**
   * Write the 402 challenge (HTML page for browsers when a renderer is set). `error`: x402 error string; `extra`:
   * fields merged into the JSON body; `accepts`: requirements replacing the route's (e.g. an amount computed from the body).
   */
  challenge(error?: string, extra?: Record<string, unknown>, accepts?: PaymentRequirements[]): void
  /** Answer with a small JSON body (no-store). */
  sendJson(status: number, body: Record<string, unknown>, headers?: Record<string, string>): void
  /**
   * Inference offers: the request body, validated and priced (maximum amount, upstream body, response meter).
   * openUpstream then sends its upstream body to its endpoint by default.
   */
  inference?: PreparedInference
}

export type PaidContext = ChallengeContext & {
  /** The payment header the client sent: PAYMENT-SIGNATURE (x402 v2) or X-PAYMENT (x402 v1). */
  payment: { version: 1 | 2; header: string }
  /**
   * Open the upstream request (streams the client's body, or sends `options.body`; `options.path` replaces the
   * upstream path); resolves without writing to res. Rejects with UpstreamError.
   */
  openUpstream(extraHeaders?: Record<string, string>, options?: OpenUpstreamOptions): Promise<UpstreamResponse>
  /** Pipe an upstream response to the client with extra headers; `trailers` runs after the upstream body ended (HTTP trailers). */
  sendUpstream(up: UpstreamResponse, extraHeaders?: Record<string, string>, trailers?: Trailers): Promise<SendResult>
  /** Answer an UpstreamError (502 / 504 / 413 JSON; nothing when the client is gone). */
  sendUpstreamError(err: UpstreamError): void
}

export type PaymentGate = {
  /** A request to a paid route carrying a payment header. */
  handle(ctx: PaidContext): Promise<void>
  /**
   * Optional: a request without payment to a route whose price depends on the request (perMTok, see
   * CompiledRoute.priceDependsOnRequest). The gate reads the body and answers with ctx.challenge(..., accepts).
   * Without it, such requests get the route's precomputed 402 like every other paid route.
   */
  handleUnpaid?(ctx: ChallengeContext): Promise<void>
}

export type SystemHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>
export type GatewayLog = (event: string, fields: Record<string, unknown>) => void

export type GatewayOptions = {
  /** "host:port" ("[::1]:8402" for IPv6); port 0 picks a free one. */
  listen: string
  /** Public base URL (no trailing slash needed); 402 resource URLs are baseUrl + the request's path and query. */
  baseUrl: () => string
  paymentGate?: PaymentGate
  /** Storefront and other stack pages (reserved paths); false = not found. */
  systemHandler?: SystemHandler
  /** HTML 402 page for browsers (Accept: text/html). JSON when absent. */
  renderPaymentPage?: RenderPaymentPage
  log?: GatewayLog
  /** Largest request body accepted on paid routes (default 10 MiB). */
  maxPaidBodyBytes?: number
  /** Time a client has to send its request headers (default 15 s) and the whole request (default 300 s). */
  headersTimeoutMs?: number
  requestTimeoutMs?: number
  /** Environment used to resolve {env} upstream header secrets (default process.env). */
  env?: NodeJS.ProcessEnv
}

export type Gateway = {
  start(): Promise<{ host: string; port: number }>
  setRoutes(routes: RouteEntry[]): void
  isReady(): boolean
  setPaymentGate(g: PaymentGate): void
  /** Stop accepting, let in-flight requests finish (up to graceMs, default 10 s), then close upstream pools. */
  stop(graceMs?: number): Promise<void>
  inFlight(): number
}

/** Until payments are configured: never serve a paid route for free, never take a payment we cannot settle. */
export const settlementNotConfigured: PaymentGate = {
  async handle(ctx) {
    ctx.sendJson(503, {
      error: 'settlement not configured',
      hint: 'This stack cannot settle payments yet; no payment was taken. Try again later.',
      offer: ctx.route.offer.key,
    }, { 'retry-after': '30' })
  },
}

export class GatewayListenError extends BaseError {
  override name = 'GatewayListenError'
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65_535) {
    throw new InvalidInputError(`Invalid listen address "${listen}".`, { hint: 'Use host:port, e.g. 127.0.0.1:8402 or [::1]:8402.' })
  }
  return { host: (m[1] ?? m[2])!, port }
}

const UNSAFE_PATH = /(?:^|\/)\.\.?(?:\/|$)|%2e|%2f|%5c|\\/i

function outcomeOf(res: ServerResponse, route: CompiledRoute | undefined): Outcome {
  if (!res.writableFinished) return 'aborted'
  const s = res.statusCode
  if (s === 402) return 'payment_required'
  if (s < 400) return route?.gate === 'free' ? 'free' : 'paid'
  if (s === 429) return 'rate_limited'
  if (s === 404) return 'not_found'
  if (s === 502) return 'upstream_error'
  if (s === 504) return 'upstream_timeout'
  return s < 500 ? 'client_error' : 'server_error'
}

/** Gateway-wide counters the per-request close handler updates. */
type Shared = { inFlight: number; onDrained: (() => void) | undefined; metrics: Metrics }

/**
 * State of one offer request, created once per request: the upstream exchange (dispatch handler and abort
 * signal, see UpstreamExchange) plus what the close handler needs (limiter to release, outcome to count).
 */
class Exchange extends UpstreamExchange {
  route: CompiledRoute | undefined = undefined
  limiter: Limiter | undefined = undefined
  outcome: Outcome | undefined = undefined
  constructor(readonly shared: Shared, res: ServerResponse, readonly offer: CompiledOffer) {
    super(res, offer.key)
  }
  onUpstreamLatency(seconds: number): void { this.shared.metrics.observeUpstream(this.offer.metrics, seconds) }
}

const kExchange = Symbol('vend.exchange')
type TrackedResponse = ServerResponse & { [kExchange]?: Exchange }

/** res 'close' listener (no closure per request): release the limiter, abort the upstream if unfinished, count. */
function onExchangeClose(this: TrackedResponse): void {
  const ex = this[kExchange]!
  const shared = ex.shared
  shared.inFlight--
  if (ex.limiter) release(ex.limiter)
  if (!this.writableFinished) ex.abortUpstream()
  shared.metrics.count(ex.offer.metrics, ex.outcome ?? outcomeOf(this, ex.route))
  if (shared.inFlight === 0 && shared.onDrained) shared.onDrained()
}

export function createGateway(opts: GatewayOptions): Gateway {
  const log: GatewayLog = opts.log ?? (() => {})
  const maxPaidBodyBytes = opts.maxPaidBodyBytes ?? 10 * 1024 * 1024
  const metrics = createMetrics()
  const noOffer = metrics.forOffer('')
  const pools = createPools()
  const limiters = new Map<string, Limiter>()
  let table: RouteTable | undefined
  let gate: PaymentGate = opts.paymentGate ?? settlementNotConfigured
  let stopping = false
  let lastSignature: string | undefined
  const shared: Shared = { inFlight: 0, onDrained: undefined, metrics }

  const base = () => opts.baseUrl().replace(/\/+$/, '')
  const proto = () => (opts.baseUrl().startsWith('https:') ? 'https' : 'http')

  /** Count a request until its response closes; `done` runs first (metrics, limiter release, upstream abort). */
  function track(res: ServerResponse, done: () => void): void {
    shared.inFlight++
    res.once('close', () => {
      shared.inFlight--
      done()
      if (shared.inFlight === 0 && shared.onDrained) shared.onDrained()
    })
  }

  async function system(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/healthz') { sendJson(res, 200, { ok: true }); return }
    if (path === '/readyz') {
      const ready = table !== undefined && !stopping
      sendJson(res, ready ? 200 : 503, ready ? { ready: true, offers: table!.offers.size } : { ready: false, reason: stopping ? 'stopping' : 'routes not loaded yet' })
      return
    }
    if (path === '/metrics') {
      const text = metrics.render(shared.inFlight)
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
      res.end(text)
      return
    }
    let handled = false
    if (opts.systemHandler) {
      try {
        handled = await opts.systemHandler(req, res, new URL(req.url ?? '/', base()))
      } catch (err) {
        log('Failed system request', { path, error: err instanceof Error ? err.message : String(err) })
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' })
        else res.destroy()
        return
      }
    }
    if (!handled && !res.headersSent) sendJson(res, 404, { error: `Nothing is served at ${path}.`, hint: 'See / for the services this stack sells.' })
  }

  function notOffer(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (reservedPathReason(path) !== undefined || path === '/healthz' || path === '/readyz' || path === '/metrics') {
      track(res, () => {})
      system(req, res, path).catch(() => res.destroy())
      return
    }
    track(res, () => metrics.count(noOffer, res.statusCode === 503 ? 'not_ready' : outcomeOf(res, undefined)))
    if (table === undefined) sendJson(res, 503, { error: 'The gateway is starting; routes are not loaded yet.', hint: 'Retry in a few seconds.' }, { 'retry-after': '2' })
    else sendJson(res, 404, { error: `No offer is served at ${path}.`, hint: 'See / for the services this stack sells.' })
  }

  /** A bug in a handler (or an injected renderer) answers 500; it never takes the listener down. */
  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    try {
      dispatch(req, res)
    } catch (err) {
      log('Failed request', { path: (req.url ?? '').split('?')[0], error: err instanceof Error ? err.message : String(err) })
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' })
      else res.destroy()
    }
  }

  function dispatch(req: IncomingMessage, res: ServerResponse): void {
    const rawUrl = req.url ?? '/'
    const q = rawUrl.indexOf('?')
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
    if (path.charCodeAt(0) !== 47 /* '/' */) { sendJson(res, 400, { error: 'The request target must be a path.' }); return }
    const offer = table === undefined ? undefined : findOffer(table, path)
    if (offer === undefined) { notOffer(req, res, path); return }
    serveOffer(req, res, offer, path, rawUrl, q)
  }

  function serveOffer(req: IncomingMessage, res: ServerResponse, offer: CompiledOffer, path: string, rawUrl: string, q: number): void {
    const ex = new Exchange(shared, res, offer)
    ;(res as TrackedResponse)[kExchange] = ex
    shared.inFlight++
    res.on('close', onExchangeClose)

    if ((path.includes('.') || path.includes('%') || path.includes('\\')) && UNSAFE_PATH.test(path)) {
      sendJson(res, 400, { error: 'The path contains dot segments or encoded separators.', hint: 'Send a normalized path.' })
      return
    }
    if (offer.entry.state === 'unhealthy' || offer.unavailable !== undefined) {
      ex.outcome = 'unhealthy'
      sendJson(res, 503, {
        error: offer.unavailable ?? `The upstream of ${offer.key} is unhealthy.`,
        hint: 'No payment was taken. Retry later.', offer: offer.key,
      }, { 'retry-after': '10' })
      return
    }
    const rest = path.slice(offer.path.length)
    const route = matchRoute(offer, rest)
    ex.route = route
    if (route === undefined) {
      sendJson(res, 404, { error: `Offer ${offer.key} has no route ${rest || '/'}.`, hint: 'See the offer\'s routes in /api/services.json.' })
      return
    }
    if (route.methods !== undefined && !route.methods.has(req.method ?? 'GET')) {
      sendJson(res, 405, { error: `${req.method} is not allowed on ${path}.` }, { allow: [...route.methods].join(', ') })
      return
    }
    if (offer.limiter !== undefined) {
      const retryAfter = acquire(offer.limiter)
      if (retryAfter > 0) {
        sendJson(res, 429, { error: `Too many requests for ${offer.key}.`, hint: `Retry after ${retryAfter} s.` }, { 'retry-after': String(retryAfter) })
        return
      }
      ex.limiter = offer.limiter
    }
    const target = offer.upstream!
    const upstreamPath = (target.basePath + rest || '/') + (q === -1 ? '' : rawUrl.slice(q))

    let kind: InferenceKind | undefined
    if (offer.resolved.offer.spec.type === 'inference') {
      const spec = offer.resolved.offer.spec
      const ir = inferenceRoute(req.method ?? 'GET', rest || '/', spec.upstream?.healthPath ?? '/health')
      if (ir.type === 'models') { sendJson(res, 200, modelsListBody(spec.model?.name ?? '')); return }
      if (ir.type === 'notFound') { sendJson(res, 404, surfaceErrorBody(ir, rest || '/')); return }
      if (ir.type === 'methodNotAllowed') { sendJson(res, 405, surfaceErrorBody(ir, rest || '/'), { allow: ir.allow }); return }
      if (ir.type === 'paid' && route.gate === 'paid') kind = ir.kind
    }

    if (route.gate === 'free' || (kind === undefined && offer.resolved.offer.spec.type === 'inference')) {
      forward(req, target, upstreamPath, upstreamHeaders(req, target, proto()), ex)
      return
    }

    const challenge = route.challenge!
    const sig = req.headers['payment-signature']
    const header = sig ?? req.headers['x-payment']
    const paid = typeof header === 'string' && header !== ''
    const html = opts.renderPaymentPage !== undefined && (req.headers.accept ?? '').includes('text/html')
      ? { render: opts.renderPaymentPage, offerKey: offer.key, resolved: offer.resolved } : undefined
    if (!paid && kind === undefined && !(route.priceDependsOnRequest && gate.handleUnpaid)) {
      writeChallenge(res, challenge, base() + rawUrl, html && { html })
      return
    }
    const length = Number(req.headers['content-length'] ?? 0)
    if (length > maxPaidBodyBytes) {
      sendJson(res, 413, { error: 'The request body is larger than this gateway accepts for paid routes.', hint: `Send at most ${maxPaidBodyBytes} bytes. No payment was taken.` })
      return
    }
    const resourceUrl = base() + rawUrl
    const base402: ChallengeContext = {
      req, res, url: new URL(resourceUrl), route,
      paymentRequired: paymentRequiredFor(challenge, resourceUrl),
      paymentRequirementsV1: paymentRequirementsV1For(challenge, resourceUrl),
      challenge: (error, extra, accepts) => writeChallenge(res, challenge, resourceUrl, { error, extra, accepts, html }),
      sendJson: (status, body, headers) => sendJson(res, status, body, headers),
    }
    const handlePaid = (ctx: ChallengeContext, defaults?: OpenUpstreamOptions) => gate.handle({
      ...ctx,
      payment: { version: sig !== undefined ? 2 : 1, header: header as string },
      openUpstream: async (extraHeaders, options) => {
        const up = await openUpstream(req, target, offer.key, upstreamPath, upstreamHeaders(req, target, proto(), extraHeaders), ex, maxPaidBodyBytes, options ?? defaults)
        metrics.observeUpstream(offer.metrics, up.latencySeconds)
        return up
      },
      sendUpstream: (up, extraHeaders, trailers) => sendUpstream(res, up, extraHeaders, trailers),
      sendUpstreamError: (err) => sendUpstreamError(res, err),
    })
    const done = kind !== undefined ? servePaidInference(base402, kind, paid ? handlePaid : undefined, target.basePath)
      : paid ? handlePaid(base402) : gate.handleUnpaid!(base402)
    done.catch((err: unknown) => {
      log('Failed paid request', { offer: offer.key, error: err instanceof Error ? err.message : String(err) })
      if (!res.headersSent) sendJson(res, 500, { error: 'The payment could not be processed.', hint: 'Retry later.' })
      else res.destroy()
    })
  }

  /**
   * A paid inference endpoint: read the body and prepare it (invalid: its 400, nothing asked); without payment
   * the 402 for this body's maximum (the gate's upto + exact when it computes them, else exact); with payment
   * the gate, whose upstream request defaults to the prepared body and endpoint.
   */
  async function servePaidInference(ctx: ChallengeContext, kind: InferenceKind, handlePaid: ((c: ChallengeContext, d: OpenUpstreamOptions) => Promise<void>) | undefined, basePath: string): Promise<void> {
    const read = await readBody(ctx.req, maxPaidBodyBytes)
    if (!read.ok) {
      if (read.tooLarge) sendJson(ctx.res, 413, { error: 'The request body is larger than this gateway accepts for paid routes.', hint: `Send at most ${maxPaidBodyBytes} bytes. No payment was taken.` })
      else ctx.res.destroy()
      return
    }
    const p = prepare(ctx.route, kind, read.body)
    if (!p.ok) { sendJson(ctx.res, p.status, p.body as unknown as Record<string, unknown>); return }
    const withInference: ChallengeContext = { ...ctx, inference: p }
    if (handlePaid) { await handlePaid(withInference, { path: inferenceUpstreamPath(basePath, p.upstreamPath), body: p.upstreamBody }); return }
    if (ctx.route.priceDependsOnRequest && gate.handleUnpaid) { await gate.handleUnpaid(withInference); return }
    ctx.challenge(undefined, undefined, exactAccepts(ctx.route, p.maxAmount))
  }

  const server = http.createServer({
    maxHeaderSize: 16 * 1024,
    headersTimeout: opts.headersTimeoutMs ?? 15_000,
    requestTimeout: opts.requestTimeoutMs ?? 300_000,
    keepAliveTimeout: 5_000,
    // node checks headers/request timeouts only this often (default 30 s): slow clients must go in time
    connectionsCheckingInterval: 1_000,
  }, onRequest)

  return {
    async start() {
      const { host, port } = parseListen(opts.listen)
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          reject(new GatewayListenError(`Cannot listen on ${opts.listen}: ${err.code ?? err.message}.`, {
            hint: err.code === 'EADDRINUSE' ? 'Another process uses that port; stop it or pick another --listen address.' : 'Check the listen address.',
            cause: err,
          }))
        }
        server.once('error', onError)
        server.listen(port, host, () => { server.off('error', onError); resolve() })
      })
      const addr = server.address() as AddressInfo
      log('Started gateway', { host: addr.address, port: addr.port })
      return { host: addr.address, port: addr.port }
    },
    setRoutes(routes) {
      const safe = routes.filter((r) => {
        const reason = reservedPathReason(r.path)
        if (reason) log('Skipped route on a reserved path', { offer: r.key, path: r.path, reason })
        return !reason
      })
      table = compileRouteTable(safe, { pools, limiters, metrics, log, ...(opts.env ? { env: opts.env } : {}) })
      const signature = [...table.offers.values()].map((o) => `${o.key}=${o.path}:${o.entry.state}`).join(',')
      if (signature !== lastSignature) log('Updated routes', { offers: [...table.offers.values()].map((o) => ({ offer: o.key, path: o.path, state: o.entry.state })) })
      lastSignature = signature
    },
    isReady: () => table !== undefined && !stopping,
    setPaymentGate(g) { gate = g },
    async stop(graceMs = 10_000) {
      stopping = true
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      if (shared.inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs)
          shared.onDrained = () => { clearTimeout(timer); resolve() }
        })
      }
      server.closeAllConnections()
      await closed
      await pools.close(shared.inFlight > 0)
      log('Stopped gateway', { inFlight: shared.inFlight })
    },
    inFlight: () => shared.inFlight,
  }
}
