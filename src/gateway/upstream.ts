/**
 * Talking to upstreams: one undici Pool per origin (keep-alive, shared across route-table swaps), request
 * header rewriting, the streaming free-route forward (a dispatch handler writing straight into the client
 * response) and the open/send pair the payment gate uses.
 */
import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { Pool, errors, type Dispatcher } from 'undici'
import { BaseError } from '../errors/base.ts'
import { HOP_BY_HOP, PAYMENT_HEADERS, connectionTokens, responseHeaders, sendJson } from './http.ts'

export type UpstreamTarget = {
  origin: string
  /** Base path of the upstream URL without trailing slash ('' for none). */
  basePath: string
  pool: Pool
  /** Resolved secret headers, flat [name, value, ...], appended to every upstream request. */
  secretHeaders: string[]
  /** Lowercased names of the secret headers: a client may not send its own. */
  secretNames: ReadonlySet<string> | undefined
  timeoutMs: number
}

export type UpstreamResponse = {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  /** The upstream body, not yet read. Consume it (sendUpstream) or destroy it. */
  body: Readable
  /** Seconds from sending the request to the response headers. */
  latencySeconds: number
}

export type UpstreamErrorKind = 'connect' | 'timeout' | 'aborted' | 'too-large'

/** The upstream could not be reached, timed out, or the client went away. `status` is what the client should get. */
export class UpstreamError extends BaseError {
  override name = 'UpstreamError'
  readonly kind: UpstreamErrorKind
  readonly status: number
  constructor(kind: UpstreamErrorKind, offerKey: string, cause?: unknown) {
    const text = {
      connect: [502, `The upstream of ${offerKey} could not be reached.`, 'Check that the upstream server is running; the gateway retries on the next request.'],
      timeout: [504, `The upstream of ${offerKey} did not answer in time.`, 'Try again later, or raise spec.upstream.timeoutSeconds if the upstream is slow on purpose.'],
      aborted: [499, 'The client closed the connection.', undefined],
      'too-large': [413, 'The request body is larger than this gateway accepts for paid routes.', 'Send a smaller body.'],
    } as const
    const [status, message, hint] = text[kind]
    super(message, { hint, cause })
    this.kind = kind
    this.status = status
  }
}

/** Map an undici/socket error to what the client is told. */
export function classifyUpstreamError(err: unknown, offerKey: string): UpstreamError {
  if (err instanceof UpstreamError) return err
  const code = (err as { code?: string } | undefined)?.code
  const name = (err as { name?: string } | undefined)?.name
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return new UpstreamError('timeout', offerKey, err)
  if (name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return new UpstreamError('aborted', offerKey, err)
  return new UpstreamError('connect', offerKey, err)
}

export function sendUpstreamError(res: ServerResponse, e: UpstreamError): void {
  if (e.kind === 'aborted') { res.destroy(); return }
  sendJson(res, e.status, { error: e.shortMessage, hint: e.hint })
}

/** Pools by origin. Pools no longer used by any route are closed gracefully (in-flight requests finish). */
export type Pools = {
  get(origin: string): Pool
  /** Close pools whose origin is not in `keep`. */
  retain(keep: ReadonlySet<string>): void
  close(force: boolean): Promise<void>
}

export function createPools(): Pools {
  const pools = new Map<string, Pool>()
  return {
    get(origin) {
      let p = pools.get(origin)
      if (!p) {
        p = new Pool(origin, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 })
        pools.set(origin, p)
      }
      return p
    },
    retain(keep) {
      for (const [origin, p] of pools) if (!keep.has(origin)) { pools.delete(origin); p.close().catch(() => {}) }
    },
    async close(force) {
      const all = [...pools.values()]
      pools.clear()
      await Promise.all(all.map((p) => (force ? p.destroy() : p.close()).catch(() => {})))
    },
  }
}

/** Parse an upstream URL into origin and base path. */
export function splitUpstreamUrl(url: string): { origin: string; basePath: string } {
  const u = new URL(url)
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') }
}

/** Request headers never forwarded besides hop-by-hop ones: Host (the upstream's own), payment headers, X-Forwarded-* (rewritten), Expect. */
const DROP: ReadonlySet<string> = new Set([...HOP_BY_HOP, ...PAYMENT_HEADERS, 'host', 'expect', 'x-forwarded-proto', 'x-forwarded-host'])

/**
 * The client's headers as a flat array for undici: hop-by-hop and payment headers dropped, X-Forwarded-For /
 * -Proto / -Host set, the offer's secret headers added (replacing any the client sent under the same name).
 */
export function upstreamHeaders(req: IncomingMessage, target: UpstreamTarget, proto: string, extra?: Record<string, string>): string[] {
  const raw = req.rawHeaders
  let out: string[] = []
  let named: readonly string[] | undefined
  let xff: string | undefined
  let host = ''
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (DROP.has(lower)) {
      if (lower === 'connection') named = connectionTokens(raw[i + 1])
      else if (lower === 'host') host = raw[i + 1]!
      continue
    }
    if (lower === 'x-forwarded-for') { xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]}`; continue }
    if (target.secretNames?.has(lower)) continue
    out.push(name, raw[i + 1]!)
  }
  if (named?.length) {
    const keep: string[] = []
    for (let i = 0; i < out.length; i += 2) if (!named.includes(out[i]!.toLowerCase())) keep.push(out[i]!, out[i + 1]!)
    out = keep
  }
  const remote = req.socket.remoteAddress ?? ''
  out.push('x-forwarded-for', xff === undefined ? remote : `${xff}, ${remote}`, 'x-forwarded-proto', proto)
  if (host) out.push('x-forwarded-host', host)
  if (target.secretHeaders.length) out.push(...target.secretHeaders)
  if (extra) for (const k in extra) out.push(k, extra[k]!)
  return out
}

/** A request has a body when it declares one (HTTP/1.1: Content-Length > 0 or Transfer-Encoding); only then is it streamed upstream. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined
}

const uncork = (res: ServerResponse) => res.uncork()

/** True for event streams: their headers go out at once and nothing is held back. */
export function isEventStream(headers: Record<string, string | string[] | undefined>): boolean {
  const type = headers['content-type']
  return typeof type === 'string' && type.startsWith('text/event-stream')
}

/**
 * One request to an upstream, as an undici dispatch handler that writes the answer straight into the client
 * response (free routes: no stream wrappers, no listeners beyond backpressure). It is also the abort signal for
 * openUpstream (paid routes): an EventEmitter with `aborted` that emits 'abort', which undici accepts and which is
 * much cheaper per request than an AbortController.
 */
export abstract class UpstreamExchange extends EventEmitter implements Dispatcher.DispatchHandler {
  aborted = false
  /** performance.now() when the request was sent upstream. */
  sentAt = 0
  private controller: Dispatcher.DispatchController | undefined = undefined
  constructor(readonly res: ServerResponse, readonly offerKey: string) { super() }

  /** Called with the upstream latency once the response headers arrive. */
  abstract onUpstreamLatency(seconds: number): void

  /** The client went away: abort the upstream request (forward or openUpstream), now or as soon as it starts. */
  abortUpstream(): void {
    if (this.aborted) return
    this.aborted = true
    this.controller?.abort(new errors.RequestAbortedError())
    this.emit('abort')
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.aborted) controller.abort(new errors.RequestAbortedError())
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200 || this.aborted) return // informational (103 Early Hints): wait for the final answer
    this.onUpstreamLatency((performance.now() - this.sentAt) / 1000)
    const res = this.res
    res.writeHead(statusCode, responseHeaders(headers))
    if (isEventStream(headers)) {
      res.flushHeaders()
    } else {
      // Headers, the body chunks and the end that arrive in the same upstream read leave in one write.
      res.cork()
      process.nextTick(uncork, res)
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.aborted || this.res.write(chunk)) return
    // The client reads slower than the upstream sends: stop reading the upstream until the client drained.
    controller.pause()
    this.res.once('drain', () => controller.resume())
  }

  onResponseEnd(): void {
    if (!this.aborted) this.res.end()
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.aborted || this.res.destroyed) return
    sendUpstreamError(this.res, classifyUpstreamError(err, this.offerKey))
  }
}

/** Send the request to the upstream and stream the answer straight back (free routes). Errors become 502/504 JSON. */
export function forward(req: IncomingMessage, target: UpstreamTarget, path: string, headers: string[], ex: UpstreamExchange): void {
  ex.sentAt = performance.now()
  target.pool.dispatch({
    path, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody(req) ? req : null,
    headersTimeout: target.timeoutMs, bodyTimeout: target.timeoutMs,
  }, ex)
}

function withoutBodyHeaders(headers: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i]!.toLowerCase()
    if (k !== 'content-length' && k !== 'transfer-encoding') out.push(headers[i]!, headers[i + 1]!)
  }
  return out
}

/** Counts bytes of a body without a Content-Length and fails once it exceeds the limit. */
class BodyLimit extends Transform {
  private seen = 0
  constructor(private readonly max: number, private readonly offerKey: string) { super() }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length
    if (this.seen > this.max) cb(new UpstreamError('too-large', this.offerKey))
    else cb(null, chunk)
  }
}

/** What a payment gate may change about the upstream request. */
export type OpenUpstreamOptions = {
  /** Path (and query) on the upstream origin, replacing base path + request path + query (e.g. an inference endpoint). */
  path?: string
  /** A body to send instead of streaming the client's (which the caller has then read itself). */
  body?: string | Buffer
}

/** Send the request upstream and resolve with status/headers/body (not yet written to the client). */
export async function openUpstream(req: IncomingMessage, target: UpstreamTarget, offerKey: string, path: string, headers: string[], signal: EventEmitter, maxBodyBytes: number, options?: OpenUpstreamOptions): Promise<UpstreamResponse> {
  let body: Readable | string | Buffer | null = null
  if (options?.body !== undefined) {
    body = options.body
    headers = withoutBodyHeaders(headers)
    headers.push('content-length', String(Buffer.byteLength(body)))
  } else if (hasBody(req)) {
    body = req.headers['content-length'] === undefined ? req.pipe(new BodyLimit(maxBodyBytes, offerKey)) : req
  }
  if (options?.path !== undefined) path = options.path
  const sentAt = performance.now()
  try {
    const r = await target.pool.request({
      path, method: req.method as Dispatcher.HttpMethod, headers, body, signal,
      headersTimeout: target.timeoutMs, bodyTimeout: target.timeoutMs,
    })
    return { statusCode: r.statusCode, headers: r.headers, body: r.body, latencySeconds: (performance.now() - sentAt) / 1000 }
  } catch (err) {
    throw classifyUpstreamError(err, offerKey)
  }
}

export type SendResult = 'completed' | 'client-gone' | 'upstream-error'
export type Trailers = () => Record<string, string> | Promise<Record<string, string>>

/**
 * Pipe an upstream response to the client with extra headers. With `trailers`, the body is sent chunked and
 * the trailers function runs after the upstream body ended, before the response ends (HTTP trailers).
 */
export function sendUpstream(res: ServerResponse, up: UpstreamResponse, extraHeaders?: Record<string, string>, trailers?: Trailers): Promise<SendResult> {
  return new Promise((resolve) => {
    const body = up.body
    let settled = false
    const finish = (r: SendResult) => {
      if (settled) return
      settled = true
      res.off('close', onClose)
      res.off('drain', onDrain)
      resolve(r)
    }
    const onClose = () => { if (!res.writableFinished) { body.destroy(); finish('client-gone') } }
    const onDrain = () => body.resume()
    if (res.destroyed) { body.destroy(); finish('client-gone'); return }
    const headers = responseHeaders(up.headers)
    if (extraHeaders) for (const k in extraHeaders) headers[k.toLowerCase()] = extraHeaders[k]!
    if (trailers) delete headers['content-length']
    res.writeHead(up.statusCode, headers)
    if (isEventStream(up.headers)) res.flushHeaders()
    res.on('close', onClose)
    res.on('drain', onDrain)
    body.on('data', (chunk: Buffer) => { if (!res.write(chunk)) body.pause() })
    body.on('error', () => { res.destroy(); finish('upstream-error') })
    body.on('end', () => {
      const end = () => res.end(() => finish('completed'))
      if (!trailers) { end(); return }
      Promise.resolve().then(trailers).then((t) => { res.addTrailers(t); end() }, () => { res.destroy(); finish('upstream-error') })
    })
  })
}
