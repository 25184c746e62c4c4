/**
 * The daemon's control socket: HTTP over a unix socket (VEND_HOME/state/vend.sock, mode 0600). It is also the
 * single-instance lock: a socket that answers means a daemon runs; one that does not is a crashed daemon's
 * leftover and is removed.
 */
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs'
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { HomePaths } from '../state/home.ts'
import { ControlSocketError } from './errors.ts'

/** sun_path is 108 bytes on Linux (104 on macOS) including the terminating NUL. */
const MAX_SOCKET_PATH = 103

/**
 * The control socket of a stack: state/vend.sock, or, when that path is too long for a unix socket, a short one
 * derived from VEND_HOME in a private per-user directory under the temp dir (like tmux's /tmp/tmux-<uid>/).
 */
export function controlSocketPath(paths: HomePaths): string {
  if (Buffer.byteLength(paths.socket) <= MAX_SOCKET_PATH) return paths.socket
  const id = createHash('sha256').update(paths.root).digest('hex').slice(0, 16)
  return join(tmpdir(), `vend-${process.getuid?.() ?? 'user'}`, `${id}.sock`)
}

/** The socket's directory must be a directory of ours (not a symlink), and is made private (0700). */
function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = lstatSync(dir)
  const uid = process.getuid?.()
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new ControlSocketError({ path: dir, detail: 'its directory is not a directory owned by this user' })
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700)
}

/** A socket file someone else owns is never talked to, nor removed. */
function assertOwnSocket(socketPath: string): void {
  const uid = process.getuid?.()
  if (uid !== undefined && lstatSync(socketPath).uid !== uid) {
    throw new ControlSocketError({ path: socketPath, detail: 'the socket belongs to another user' })
  }
}

export type ControlReply = { status: number; body: unknown }
export type ControlHandler = (method: string, path: string) => Promise<ControlReply>

/** Listen on the socket (0600 from the start). Fails with EADDRINUSE when the file exists. */
export async function listenControlSocket(socketPath: string, handler: ControlHandler, onError: (err: unknown) => void): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    handler(req.method ?? 'GET', req.url ?? '/').then(
      (reply) => send(res, reply),
      (err: unknown) => {
        onError(err)
        send(res, { status: 500, body: { error: err instanceof Error ? err.message : String(err) } })
      },
    )
  })
  ensurePrivateDir(dirname(socketPath))
  const umask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => { server.off('error', reject); resolve() })
    })
  } finally {
    process.umask(umask)
  }
  return server
}

function send(res: ServerResponse, { status, body }: ControlReply): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** One request to the daemon. Throws ControlSocketError when nothing answers. */
export function controlRequest<T = unknown>(socketPath: string, method: string, path: string, timeoutMs = 10_000): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (err) => reject(new ControlSocketError({ path: socketPath, detail: err.message, cause: err })))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        try {
          resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as T })
        } catch (err) {
          reject(new ControlSocketError({ path: socketPath, detail: 'the reply was not JSON', cause: err }))
        }
      })
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no reply within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })))
    req.on('error', (err: NodeJS.ErrnoException) => reject(new ControlSocketError({ path: socketPath, detail: err.code ?? err.message, cause: err })))
    req.end()
  })
}

export type SocketState = 'absent' | 'running' | 'stale'

/**
 * Is a daemon behind this socket? A socket that refuses connections is stale (its daemon crashed). A socket
 * that accepts but does not answer in time counts as running: a busy daemon's socket is never removed.
 */
export async function probeControlSocket(socketPath: string, timeoutMs = 3000): Promise<SocketState> {
  if (!existsSync(socketPath)) return 'absent'
  assertOwnSocket(socketPath)
  try {
    await controlRequest(socketPath, 'GET', '/status?offers=false', timeoutMs)
    return 'running'
  } catch (err) {
    const code = ((err as ControlSocketError).cause as NodeJS.ErrnoException | undefined)?.code
    if (code === 'ETIMEDOUT') return 'running'
    return existsSync(socketPath) ? 'stale' : 'absent'
  }
}

/** Remove a stale socket; true when one was removed. */
export function removeStaleSocket(socketPath: string): boolean {
  try {
    unlinkSync(socketPath)
    return true
  } catch {
    return false
  }
}
