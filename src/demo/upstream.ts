/**
 * The demo's upstream, served by the daemon itself on the reserved path /_vend/demo/* of its own listener (the
 * gateway hands reserved paths to its system handler, so the offer hot path is untouched). Only loopback clients get
 * an answer: the gateway proxying a paid request to it, and the health probe. Anyone else sees the usual 404, so the
 * demo's paid route cannot be bypassed from another machine.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isLoopback } from '../buyer/buyerHandler.ts'
import { sendJson } from '../gateway/http.ts'

export const DEMO_UPSTREAM_PATH = '/_vend/demo'
export const DEMO_HEALTH_PATH = '/health'

/** A system handler (gateway SystemHandler): answers /_vend/demo and /_vend/demo/* for loopback clients; false otherwise. */
export function demoUpstream(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const p = url.pathname
  if (p !== DEMO_UPSTREAM_PATH && !p.startsWith(`${DEMO_UPSTREAM_PATH}/`)) return false
  if (!isLoopback(req.socket.remoteAddress)) return false
  const rest = p.slice(DEMO_UPSTREAM_PATH.length) || '/'
  if (rest === DEMO_HEALTH_PATH) {
    sendJson(res, 200, { ok: true })
    return true
  }
  req.resume() // a body, if any, is not needed
  sendJson(res, 200, {
    message: 'Hello from Vend! This answer was paid for with an x402 micropayment.',
    method: req.method ?? 'GET',
    path: rest,
    servedAt: new Date().toISOString(),
  })
  return true
}
