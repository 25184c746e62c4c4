/**
 * Small HTTP helpers for the gateway hot path: JSON error replies and hop-by-hop header filtering.
 */
import type { ServerResponse } from 'node:http'

/** Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1), plus Host. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
])

/** Payment headers: consumed by the gateway, never sent upstream. */
export const PAYMENT_HEADERS: ReadonlySet<string> = new Set(['payment-signature', 'x-payment'])

/** Write a small JSON reply unless the response already started. */
export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>, headers?: Record<string, string>): void {
  if (res.headersSent) { res.destroy(); return }
  const text = JSON.stringify(body)
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

const NONE: readonly string[] = []

/** Header names listed in a Connection header value (other than the usual keep-alive/close tokens). */
export function connectionTokens(value: string | string[] | undefined): readonly string[] {
  if (!value || value === 'keep-alive' || value === 'close') return NONE
  const out: string[] = []
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const t = part.trim().toLowerCase()
    if (t && t !== 'keep-alive' && t !== 'close') out.push(t)
  }
  return out
}

/** Response headers of an upstream answer minus hop-by-hop ones (and those named in its Connection header). */
export function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const named = connectionTokens(headers['connection'])
  const out: Record<string, string | string[]> = {}
  for (const k in headers) {
    const v = headers[k]
    if (v === undefined || HOP_BY_HOP.has(k) || (named.length && named.includes(k))) continue
    out[k] = v
  }
  return out
}
