/**
 * The storefront's request handler, plugged into the gateway as its `systemHandler`. Serves the discovery
 * documents and the HTML storefront from the engine's current catalog; answers false for any other path.
 *
 * Documents are rendered lazily and cached per catalog identity: the engine swaps the catalog array
 * atomically, so a new array reference (or a new base URL / display name) is the only reason to re-render.
 * Every response has a strong ETag (304 on If-None-Match), a short public Cache-Control and open CORS; large
 * documents are gzipped once per document for clients that accept it.
 */
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { CatalogEntry } from '../reconciler/types.ts'
import { renderDiscoveryResources, toDiscoveryItems, type DiscoveryItem } from './discoveryResources.ts'
import { PAGE_CSP } from './html.ts'
import { renderOpenApi } from './renderOpenApi.ts'
import { renderServicesJson } from './renderServicesJson.ts'
import { renderSkillMd } from './renderSkillMd.ts'
import { renderStorefrontPage } from './renderStorefrontPage.ts'
import { renderWellKnownX402 } from './renderWellKnownX402.ts'
import { toServiceViews, type ServiceView } from './serviceView.ts'

export type StorefrontOptions = {
  getCatalog: () => CatalogEntry[]
  /** Public base URL of the stack (absolute URLs in every document). */
  baseUrl: () => string
  /** Display name of the stack (default "Vend"). */
  stackName?: () => string
  /** The ERC-8004 registration file, once identity provides one (else /.well-known/agent-registration.json is 404). */
  getRegistrationFile?: () => unknown | undefined
  /** Clock for `lastUpdated` in /discovery/resources (tests). */
  now?: () => Date
}

export type StorefrontHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>

type Doc = { body: Buffer; etag: string; contentType: string; html: boolean; gzipped?: Promise<Buffer> }

type Snapshot = {
  catalog: CatalogEntry[]
  baseUrl: string
  displayName: string
  views: ServiceView[]
  docs: Map<string, Doc>
  items: DiscoveryItem[] | undefined
  renderedAt: string
}

const JSON_TYPE = 'application/json; charset=utf-8'
const CACHE_CONTROL = 'public, max-age=30'
const EXPOSE = 'PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE'
/** Bodies at least this large go out gzipped to clients that accept it (compressed once per document, off the event loop). */
const GZIP_MIN_BYTES = 1024
const gzipAsync = promisify(gzip)
const STOREFRONT_PATHS = ['/', '/api/services.json', '/skill.md', '/.well-known/x402', '/openapi.json', '/discovery/resources', '/.well-known/agent-registration.json'] as const

const RENDERERS: Record<string, { contentType: string; render: (s: Snapshot) => string }> = {
  '/': { contentType: 'text/html; charset=utf-8', render: (s) => renderStorefrontPage(s.views, s.displayName) },
  '/api/services.json': { contentType: JSON_TYPE, render: (s) => renderServicesJson(s.views, s.displayName) },
  '/skill.md': { contentType: 'text/markdown; charset=utf-8', render: (s) => renderSkillMd(s.views, s.baseUrl, s.displayName) },
  '/.well-known/x402': { contentType: JSON_TYPE, render: (s) => renderWellKnownX402(s.views) },
  '/openapi.json': { contentType: JSON_TYPE, render: (s) => renderOpenApi(s.views, s.baseUrl, s.displayName) },
}

function toDoc(text: string, contentType: string): Doc {
  const body = Buffer.from(text, 'utf8')
  return { body, contentType, html: contentType.startsWith('text/html'), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"` }
}

function corsHeaders(): Record<string, string> {
  return {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    'access-control-expose-headers': EXPOSE,
  }
}

/** If-None-Match matches either representation of the document (identity or gzip). */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  const base = etag.replace(/-gz"$/, '"')
  return header.split(',').some((t) => { const v = t.trim().replace(/^W\//, '').replace(/-gz"$/, '"'); return v === '*' || v === base })
}

function acceptsGzip(req: IncomingMessage): boolean {
  return /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')
}

async function send(req: IncomingMessage, res: ServerResponse, status: number, doc: Doc): Promise<void> {
  const headers: Record<string, string | number> = {
    ...corsHeaders(),
    'content-type': doc.contentType,
    'cache-control': status === 200 ? CACHE_CONTROL : 'no-store',
    'x-content-type-options': 'nosniff',
  }
  if (doc.html) {
    headers['content-security-policy'] = PAGE_CSP
    headers['referrer-policy'] = 'no-referrer'
  }
  const compressible = doc.body.length >= GZIP_MIN_BYTES
  const gz = compressible && acceptsGzip(req)
  if (compressible) headers.vary = 'Accept-Encoding'
  if (status === 200) {
    // Each content coding is its own representation, so it gets its own strong ETag.
    const etag = gz ? `${doc.etag.slice(0, -1)}-gz"` : doc.etag
    headers.etag = etag
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { ...corsHeaders(), etag, 'cache-control': CACHE_CONTROL, ...(compressible ? { vary: 'Accept-Encoding' } : {}) })
      res.end()
      return
    }
  }
  let body = doc.body
  if (gz) {
    body = await (doc.gzipped ??= gzipAsync(doc.body))
    headers['content-encoding'] = 'gzip'
  }
  headers['content-length'] = body.length
  res.writeHead(status, headers)
  res.end(req.method === 'HEAD' ? undefined : body)
}

function notFound(message: string, hint: string): Doc {
  return toDoc(JSON.stringify({ error: message, hint }), JSON_TYPE)
}

export function createStorefrontHandler(opts: StorefrontOptions): StorefrontHandler {
  let snap: Snapshot | undefined
  const now = opts.now ?? (() => new Date())

  function current(): Snapshot {
    const catalog = opts.getCatalog()
    const baseUrl = opts.baseUrl().replace(/\/+$/, '')
    const displayName = opts.stackName?.() ?? 'Vend'
    if (!snap || snap.catalog !== catalog || snap.baseUrl !== baseUrl || snap.displayName !== displayName) {
      snap = { catalog, baseUrl, displayName, views: toServiceViews(catalog, baseUrl), docs: new Map(), items: undefined, renderedAt: now().toISOString() }
    }
    return snap
  }

  return async function storefront(req, res, url) {
    const path = url.pathname
    if (!(STOREFRONT_PATHS as readonly string[]).includes(path)) return false
    const method = req.method ?? 'GET'
    if (method === 'OPTIONS') {
      res.writeHead(204, { ...corsHeaders(), 'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*', 'access-control-max-age': '600' })
      res.end()
      return true
    }
    if (method !== 'GET' && method !== 'HEAD') {
      const doc = toDoc(JSON.stringify({ error: `Method ${method} is not allowed on ${path}.`, hint: 'Use GET.' }), JSON_TYPE)
      res.setHeader('allow', 'GET, HEAD, OPTIONS')
      await send(req, res, 405, doc)
      return true
    }
    if (path === '/.well-known/agent-registration.json') {
      const file = opts.getRegistrationFile?.()
      if (file === undefined) await send(req, res, 404, notFound('This stack has no agent registration yet.', 'Enable registration on an offer and give the stack a public URL.'))
      else await send(req, res, 200, toDoc(JSON.stringify(file, null, 2), JSON_TYPE))
      return true
    }
    const s = current()
    if (path === '/discovery/resources') {
      s.items ??= toDiscoveryItems(s.views, s.renderedAt)
      await send(req, res, 200, toDoc(renderDiscoveryResources(s.items, url.searchParams), JSON_TYPE))
      return true
    }
    let doc = s.docs.get(path)
    if (!doc) {
      const r = RENDERERS[path]!
      doc = toDoc(r.render(s), r.contentType)
      s.docs.set(path, doc)
    }
    await send(req, res, 200, doc)
    return true
  }
}
