/**
 * Who may see the dashboard: a client on this machine, or anyone presenting the operator's token.
 *
 * "On this machine" means a loopback peer address, a loopback Host (a web page using DNS rebinding reaches
 * loopback under its own name) and no forwarding headers (a reverse proxy or tunnel on this machine connects from
 * loopback on behalf of remote clients). Everyone else needs the token (stack.yaml `dashboardToken: {env: NAME}`):
 * `Authorization: Bearer <token>`, or `?token=<token>` once, which sets an HttpOnly SameSite=Strict cookie holding
 * an HMAC of the token (never the token itself) and redirects to the same page without it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isLoopback } from '../buyer/buyerHandler.ts'
import { InvalidInputError } from '../errors/base.ts'
import type { StackConfig } from '../state/stackConfig.ts'

export const DASHBOARD_COOKIE = 'vend_dashboard'
const MIN_TOKEN_LENGTH = 16
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'cf-connecting-ip'] as const

export type Access =
  | { ok: true; via: 'loopback' | 'token' | 'cookie' }
  /** The token came in the query: set this cookie and redirect to `location` (the URL without the token). */
  | { ok: true; via: 'query'; setCookie: string; location: string }
  | { ok: false }

/** The dashboard token named by stack.yaml, read from the environment; undefined when none is configured. */
export function dashboardToken(config: Pick<StackConfig, 'dashboardToken'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = config.dashboardToken?.env
  if (name === undefined) return undefined
  const value = env[name]
  if (value === undefined || value.length < MIN_TOKEN_LENGTH) {
    throw new InvalidInputError(`stack.yaml dashboardToken reads the environment variable ${name}, which is ${value === undefined ? 'not set' : `shorter than ${MIN_TOKEN_LENGTH} characters`}.`, {
      hint: `Set ${name} to a long random value (e.g. \`openssl rand -hex 24\`) before \`vend stack up\`, or remove dashboardToken from stack.yaml.`,
    })
  }
  return value
}

export function isLocalRequest(req: IncomingMessage): boolean {
  if (!isLoopback(req.socket.remoteAddress)) return false
  if (FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined)) return false
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || isLoopback(host)
}

const digest = (v: string): Buffer => createHash('sha256').update(v).digest()
const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b))
const sessionValue = (token: string): string => createHmac('sha256', token).update('vend dashboard session').digest('base64url')

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}

export function checkAccess(req: IncomingMessage, url: URL, token: string | undefined): Access {
  if (isLocalRequest(req)) return { ok: true, via: 'loopback' }
  if (token === undefined) return { ok: false }
  const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  if (auth && sameSecret(auth[1]!, token)) return { ok: true, via: 'token' }
  const session = cookie(req, DASHBOARD_COOKIE)
  if (session !== undefined && sameSecret(session, sessionValue(token))) return { ok: true, via: 'cookie' }
  const query = url.searchParams.get('token')
  if (query !== null && sameSecret(query, token)) {
    const clean = new URL(url)
    clean.searchParams.delete('token')
    const secure = req.headers['x-forwarded-proto'] === 'https' || url.protocol === 'https:' ? '; Secure' : ''
    return {
      ok: true, via: 'query', location: `${clean.pathname}${clean.search}`,
      setCookie: `${DASHBOARD_COOKIE}=${sessionValue(token)}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=2592000${secure}`,
    }
  }
  return { ok: false }
}
