/**
 * The buyer endpoints the daemon serves to loopback clients (anyone else gets 403):
 *   GET  /buy/v1/models                      every purchase as an OpenAI model "<purchase>/<model>"
 *   POST /buy/v1/chat/completions (and /v1/completions, /v1/embeddings)  OpenAI-compatible, routed by model id
 *   ANY  /buy/<purchase>/<path>              the seller's offer endpoint + /<path>, for HTTP offers
 * Each request is paid from the stack wallet under the purchase's budgets (payPurchase.ts) and streamed back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { LocalAccount } from 'viem'
import type { Ledger } from '../payments/ledger/types.ts'
import type { Db } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import { createBudgetBook } from './budget.ts'
import type { LocalRefusal, PurchaseCall } from './payPurchase.ts'
import { modelId, type Purchase } from './purchaseSchema.ts'
import { createPurchaseStatsStore, type PurchaseStatsStore } from './purchaseStats.ts'
import { createPurchaseCache, type PurchaseCache } from './purchaseStore.ts'

export type BuyerLog = (event: string, fields: Record<string, unknown>) => void

export type BuyerHandlerOptions = {
  paths: HomePaths
  db: Db
  ledger: Ledger
  /** The stack wallet, unlocked; rejects with a BaseError saying why it is not available. */
  account: () => Promise<LocalAccount>
  /** JSON-RPC URL of a CAIP-2 network, when known: purchases on it may pay `upto` (Permit2); others pay exact. */
  rpcUrl?: (network: string) => string | undefined
  log?: BuyerLog
  /** Largest request body a buyer endpoint accepts (default 10 MiB). */
  maxBodyBytes?: number
  fetch?: typeof fetch
}

export type BuyerHandler = {
  /** Handles /buy/*; false for every other path. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>
}

const OPENAI_PATHS = new Set(['/buy/v1/chat/completions', '/buy/v1/completions', '/buy/v1/embeddings'])
const DROP_REQUEST = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'authorization', 'cookie',
  'payment-signature', 'x-payment', 'accept-encoding', 'upgrade', 'proxy-authorization', 'te', 'trailer', 'expect'])
const DROP_RESPONSE = new Set(['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'trailer'])
const SSE_RECEIPT = /^: x402 (?:x-)?payment-response (\S+)$/m

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  const a = address.startsWith('::ffff:') ? address.slice(7) : address
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)
}

/**
 * Why a loopback request may still not spend (undefined: it may). Web pages the user visits run on this machine
 * too: a browser request carries Origin (cross-site POSTs need no preflight), and DNS rebinding shows up as a
 * Host that is not a loopback name. Programs (SDKs, curl) send neither.
 */
export function browserRefusal(headers: IncomingMessage['headers']): string | undefined {
  if (headers.origin !== undefined) return 'Requests from web pages (with an Origin header) may not spend from this stack.'
  const host = (headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase()
  if (host !== 'localhost' && !isLoopback(host)) return `The Host "${headers.host ?? ''}" is not a loopback name.`
  return undefined
}

class HttpProblem extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly hint: string) { super(message) }
}

export function createBuyerHandler(opts: BuyerHandlerOptions): BuyerHandler {
  const purchases: PurchaseCache = createPurchaseCache(opts.paths)
  const stats: PurchaseStatsStore = createPurchaseStatsStore(opts.db)
  const book = createBudgetBook((key) => opts.ledger.list({ offer: key }))
  const maxBody = opts.maxBodyBytes ?? 10 * 1024 * 1024
  const log = opts.log ?? (() => {})

  const purchase = (name: string): Purchase => {
    const r = purchases.get(name)
    if (!r) throw new HttpProblem(404, 'purchase_not_found', `There is no purchase named "${name}".`, 'See `vend buy list`, or add one with `vend buy add <seller>`.')
    if (r.problem !== undefined) throw new HttpProblem(409, 'purchase_invalid', `purchases/${name}.yaml: ${r.problem}.`, 'Fix the file, or add the purchase again with `vend buy add`.')
    return r.purchase
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname
    if (path !== '/buy' && !path.startsWith('/buy/')) return false
    const openai = path.startsWith('/buy/v1/')
    if (!isLoopback(req.socket.remoteAddress)) {
      problem(res, openai, { status: 403, code: 'forbidden', message: 'The buyer endpoints answer only clients on this machine (loopback).', hint: 'Call them from the host the stack runs on.' })
      return true
    }
    const browser = browserRefusal(req.headers)
    if (browser) {
      problem(res, openai, { status: 403, code: 'forbidden', message: browser, hint: 'Call the buyer endpoints from a program on this machine, at http://127.0.0.1:<port>/buy/...' })
      return true
    }
    try {
      if (path === '/buy/v1/models' && (req.method === 'GET' || req.method === 'HEAD')) { models(res); return true }
      if (OPENAI_PATHS.has(path)) {
        if (req.method !== 'POST') throw new HttpProblem(405, 'method_not_allowed', `Use POST for ${path}.`, 'See the OpenAI API reference.')
        await openaiCall(req, res, path.slice('/buy'.length))
        return true
      }
      const m = /^\/buy\/([^/]+)(\/.*)?$/.exec(path)
      if (!m || openai) throw new HttpProblem(404, 'not_found', `Nothing is served at ${path}.`, 'Use /buy/v1/chat/completions, /buy/v1/models or /buy/<purchase>/<path>.')
      const p = purchase(decodeURIComponent(m[1]!))
      const body = await readBody(req)
      await forward(res, p, {
        url: `${p.spec.endpoint.replace(/\/+$/, '')}${m[2] ?? ''}${url.search}`,
        method: req.method ?? 'GET', headers: requestHeaders(req), body: body.length ? body : undefined,
      }, false)
    } catch (err) {
      if (!(err instanceof HttpProblem)) throw err
      problem(res, openai, { status: err.status, code: err.code, message: err.message, hint: err.hint })
    }
    return true
  }

  function models(res: ServerResponse): void {
    const data = purchases.all().flatMap((r) => (r.purchase ? [{ id: modelId(r.purchase), object: 'model', created: 0, owned_by: r.purchase.spec.offer }] : []))
    sendJson(res, 200, { object: 'list', data })
  }

  async function openaiCall(req: IncomingMessage, res: ServerResponse, upstreamPath: string): Promise<void> {
    const raw = await readBody(req)
    let body: Record<string, unknown>
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object')
    } catch {
      throw new HttpProblem(400, 'invalid_json', 'The request body must be a JSON object.', 'Send an OpenAI-style request body.')
    }
    const id = typeof body.model === 'string' ? body.model : ''
    const slash = id.indexOf('/')
    if (slash <= 0) throw new HttpProblem(404, 'model_not_found', `Unknown model "${id}": buyer model ids are "<purchase>/<model>".`, 'See GET /buy/v1/models.')
    const p = purchase(id.slice(0, slash))
    const model = p.spec.model ?? id.slice(slash + 1)
    await forward(res, p, {
      url: `${p.spec.endpoint.replace(/\/+$/, '')}${upstreamPath}`,
      method: 'POST', headers: { 'content-type': 'application/json', accept: String(req.headers.accept ?? 'application/json') },
      body: Buffer.from(JSON.stringify({ ...body, model })),
    }, true)
  }

  async function forward(res: ServerResponse, p: Purchase, call: PurchaseCall, openai: boolean): Promise<void> {
    const name = p.metadata.name
    let account: LocalAccount
    try {
      account = await opts.account()
    } catch (err) {
      const hint = (err as { hint?: string }).hint ?? 'Set VEND_WALLET_PASSWORD for the daemon and restart it.'
      const message = (err as { shortMessage?: string }).shortMessage ?? (err as Error).message
      stats.count(name, `wallet unavailable: ${message}`)
      throw new HttpProblem(503, 'wallet_unavailable', `The stack wallet is not available to pay: ${message}`, hint)
    }
    const abort = new AbortController()
    res.once('close', () => { if (!res.writableFinished) abort.abort() })
    // payPurchase.ts pulls the x402 client SDK (and viem): loaded on the first purchase, not at daemon start.
    const { callPurchase } = await import('./payPurchase.ts')
    const result = await callPurchase(p, { ...call, signal: abort.signal }, {
      ledger: opts.ledger, book, account, rpcUrl: opts.rpcUrl?.(p.spec.payment.network), ...(opts.fetch ? { fetch: opts.fetch } : {}),
    })
    if (!result.ok) {
      stats.count(name, result.refusal.message)
      log('Refused purchase request', { purchase: name, code: result.refusal.code, paid: result.refusal.paid })
      problem(res, openai, result.refusal)
      return
    }
    const up = result.response
    stats.count(name, up.status >= 400 ? `seller answered HTTP ${up.status}` : undefined)
    const headers: Record<string, string> = {}
    up.headers.forEach((v, k) => { if (!DROP_RESPONSE.has(k)) headers[k] = v })
    headers['x-vend-purchase'] = name
    res.writeHead(up.status, headers)
    if (!up.body) { res.end(); return }
    const sse = (up.headers.get('content-type') ?? '').includes('text/event-stream')
    let tail = ''
    const scan = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (sse) tail = (tail + chunk.toString('utf8')).slice(-4096)
        cb(null, chunk)
      },
    })
    try {
      await pipeline(Readable.fromWeb(up.body as import('node:stream/web').ReadableStream), scan, res)
    } catch {
      res.destroy()
    }
    const m = sse ? SSE_RECEIPT.exec(tail) : null
    if (m) await result.receiptFromStream(m[1]!)
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req) {
      size += (c as Buffer).length
      if (size > maxBody) throw new HttpProblem(413, 'body_too_large', `The request body is larger than ${maxBody} bytes.`, 'Send a smaller body.')
      chunks.push(c as Buffer)
    }
    return Buffer.concat(chunks)
  }

  return { handle }
}

function requestHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !DROP_REQUEST.has(k)) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

/** OpenAI endpoints answer in OpenAI's error shape (the SDKs show error.message); the others in Vend's. */
function problem(res: ServerResponse, openai: boolean, r: Pick<LocalRefusal, 'code' | 'message' | 'hint'> & { status: number }): void {
  if (res.headersSent) { res.destroy(); return }
  const message = `${r.message} ${r.hint}`
  sendJson(res, r.status, openai
    ? { error: { message, type: r.status === 402 ? 'payment_refused' : 'invalid_request_error', code: r.code, hint: r.hint } }
    : { error: r.code, message: r.message, hint: r.hint })
}
