/**
 * End-to-end helpers: run the real bin/vend in a child process against a temp VEND_HOME, pick free loopback
 * ports, and run small real HTTP servers (an upstream API, a facilitator's /supported) in the test process.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

export const VEND_BIN = fileURLToPath(new URL('../../bin/vend', import.meta.url))

export type VendResult = { code: number; stdout: string; stderr: string }

/** Run `vend <args>` with VEND_HOME=home; never interactive. */
export function vend(home: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<VendResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VEND_BIN, ...args], {
      env: { ...process.env, VEND_HOME: home, VEND_NO_PROMPT: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('error', reject)
    const t0 = Date.now()
    child.on('close', (code) => { if (process.env.VEND_E2E_TIMING) console.error(`[timing] ${Date.now() - t0} ms vend ${args.join(' ').slice(0, 80)}`); resolve({ code: code ?? -1, stdout, stderr }) })
    child.stdin.end(opts.input ?? '')
  })
}

export function tempHome(prefix = 'vend-e2e-'): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), prefix))
  return { home, cleanup: () => { killStackProcesses(home); rmSync(home, { recursive: true, force: true }) } }
}

/** Safety net for tests: a daemon or dev chain a failed test left running in this home is stopped (SIGTERM). */
export function killStackProcesses(home: string): void {
  for (const record of ['state/daemon.json', 'state/devchain/chain.json']) {
    try {
      const { pid, joined } = JSON.parse(readFileSync(join(home, record), 'utf8')) as { pid?: number; joined?: boolean }
      if (pid && !joined) process.kill(pid, 'SIGTERM')
    } catch { /* no record, or the process is gone */ }
  }
}

/** A free loopback port: bind 0, read it, close. */
export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

export type TestServer = { url: string; hits: string[]; close: () => Promise<void> }

export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer & { server: Server }> {
  const hits: string[] = []
  const server = createServer((req, res) => { hits.push(`${req.method} ${req.url}`); handler(req, res) })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    server, hits, url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

/** An upstream API: /health 200, everything else echoes the path it was asked for. */
export function startUpstream(): ReturnType<typeof serve> {
  return serve((req, res) => {
    const body = JSON.stringify(req.url === '/health' ? { ok: true } : { upstream: true, path: req.url })
    res.writeHead(200, { 'content-type': 'application/json' }).end(body)
  })
}

/** A facilitator's discovery endpoint (GET /supported) for exact payments on the given CAIP-2 networks. */
export function startFacilitator(networks: string[]): ReturnType<typeof serve> {
  return serve((req, res) => {
    if (req.url?.startsWith('/supported')) {
      const kinds = networks.flatMap((network) => [1, 2].map((x402Version) => ({ x402Version, scheme: 'exact', network })))
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kinds, extensions: [], signers: {} }))
      return
    }
    res.writeHead(404).end()
  })
}

/** Poll fn until it returns a value (not undefined) or the deadline passes; the last error explains a timeout. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) { last = err }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Stop a daemon a test started, even when `stack down` cannot: by the pid in its record. */
export async function stopDaemon(home: string): Promise<void> {
  const r = await vend(home, ['stack', 'down', '--yes']).catch(() => undefined)
  if (r?.code === 0) return
  try {
    const { pid } = JSON.parse(readFileSync(join(home, 'state', 'daemon.json'), 'utf8')) as { pid: number }
    process.kill(pid, 'SIGKILL')
  } catch { /* not running */ }
}
