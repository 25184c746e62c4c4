/**
 * The operator dashboard, plugged into the gateway's system handler for /dashboard*:
 *   GET /dashboard                 the page (?range=1h|24h|7d|30d)
 *   GET /dashboard/api/summary     the same data as JSON
 * Only for clients on this machine or holding the dashboard token (access.ts); others get 403. Responses are never
 * cached by clients. Reads run on the daemon's database handle: synchronous SQLite that scans the earned rows (about
 * 3 µs of CPU per ledger row on the shared dev machine), so one summary per range is computed at most every `cacheMs`
 * however often pages and scripts ask: the gateway shares this event loop.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ResolvedOffer } from '../offer/resolveOffer.ts'
import type { OfferStatus } from '../reconciler/types.ts'
import type { Db } from '../state/db.ts'
import { escapeHtml as e } from '../storefront/html.ts'
import { checkAccess } from './access.ts'
import { createLedgerQueries } from './queries.ts'
import { DASHBOARD_CSP, renderDashboardPage } from './renderDashboardPage.ts'
import { buildSummary, parseRange, type DashboardSummary, type RangeName } from './summary.ts'

export type DashboardOptions = {
  /** The stack's database (the ledger's `payments` table). */
  db: Db
  /** Offer statuses after the last reconcile pass. */
  getStatuses: () => readonly OfferStatus[]
  /** Offers that resolved (prices, tokens), by key. */
  getOffers: () => ReadonlyMap<string, ResolvedOffer>
  /** The operator's token for clients not on this machine (see dashboardToken in access.ts); none: loopback only. */
  token?: string | undefined
  stackName?: () => string
  now?: () => Date
  /** How long a computed summary is reused (default 2 s; 0: never). */
  cacheMs?: number
}

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>

const BASE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8')
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': contentType, 'content-length': buf.length, ...extra })
  res.end(req.method === 'HEAD' ? undefined : buf)
}

function problem(req: IncomingMessage, res: ServerResponse, status: number, error: string, hint: string, extra: Record<string, string> = {}): void {
  if ((req.headers.accept ?? '').includes('text/html')) {
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status}</title></head><body style="font:15px system-ui,sans-serif;max-width:640px;margin:64px auto;padding:0 20px;color:#0f172a"><h1 style="font-size:20px">${e(error)}</h1><p style="color:#475569">${e(hint)}</p></body></html>`
    send(req, res, status, 'text/html; charset=utf-8', html, { 'content-security-policy': DASHBOARD_CSP, ...extra })
  } else {
    send(req, res, status, 'application/json; charset=utf-8', JSON.stringify({ error, hint }), extra)
  }
}

export function createDashboardHandler(opts: DashboardOptions): DashboardHandler {
  const queries = createLedgerQueries(opts.db)
  const now = opts.now ?? (() => new Date())
  const cacheMs = opts.cacheMs ?? 2000
  const cache = new Map<RangeName, { at: number; summary: DashboardSummary }>()
  const summaryFor = (range: RangeName): DashboardSummary => {
    const at = now().getTime()
    const hit = cache.get(range)
    if (hit && at - hit.at < cacheMs && at >= hit.at) return hit.summary
    const summary = buildSummary({ queries, statuses: opts.getStatuses(), offers: opts.getOffers(), now: new Date(at), range })
    cache.set(range, { at, summary })
    return summary
  }

  return async function dashboard(req, res, url) {
    const path = url.pathname
    if (path !== '/dashboard' && !path.startsWith('/dashboard/')) return false
    const access = checkAccess(req, url, opts.token)
    if (!access.ok) {
      problem(req, res, 403, 'The dashboard is only served to this machine.',
        'Open it on the machine running the stack (http://127.0.0.1:<port>/dashboard), or set dashboardToken in stack.yaml and send Authorization: Bearer <token> (or ?token=<token> once).')
      return true
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      problem(req, res, 405, `Method ${req.method ?? ''} is not allowed on ${path}.`, 'Use GET.', { allow: 'GET, HEAD' })
      return true
    }
    if (access.via === 'query') {
      res.writeHead(303, { ...BASE_HEADERS, location: access.location, 'set-cookie': access.setCookie, 'content-length': 0 })
      res.end()
      return true
    }
    const page = path === '/dashboard' || path === '/dashboard/'
    if (!page && path !== '/dashboard/api/summary') {
      problem(req, res, 404, `There is no ${path} on the dashboard.`, 'Open /dashboard, or /dashboard/api/summary for JSON.')
      return true
    }
    const summary = summaryFor(parseRange(url.searchParams.get('range')))
    if (page) send(req, res, 200, 'text/html; charset=utf-8', renderDashboardPage(summary, opts.stackName?.()), { 'content-security-policy': DASHBOARD_CSP })
    else send(req, res, 200, 'application/json; charset=utf-8', JSON.stringify(summary, null, 2))
    return true
  }
}
