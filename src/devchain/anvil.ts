/**
 * The anvil process behind a dev chain: found in the optional npm package, started detached (own process group,
 * not a child the daemon waits for) so it outlives a crashed or SIGKILLed daemon, persisting its state to a file.
 *
 * Persistence, as measured with anvil 1.7.1: `--state <file>` loads the file at start and dumps it on SIGTERM/SIGINT
 * (in place, not atomically); SIGKILL dumps nothing, so `--state-interval 1` also dumps once a second. A graceful
 * stop therefore keeps everything; a SIGKILL of anvil itself loses at most the last second.
 */
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { AnvilMissingError, DevChainPortInUseError, DevChainStartError, DevChainStateDamagedError, DevChainStopTimeoutError } from './errors.ts'

const require = createRequire(import.meta.url)

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64',
}

const missingAnvil = (cause?: unknown) => new AnvilMissingError({ platform: `${process.platform}-${process.arch}`, cause })

/** Path of the anvil binary: `explicit` when given (tests), else the platform package of @foundry-rs/anvil. */
export function anvilBinary(explicit?: string): string {
  if (explicit !== undefined) {
    if (!existsSync(explicit)) throw missingAnvil()
    return explicit
  }
  const pkg = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`]
  if (!pkg) throw missingAnvil()
  try {
    return require.resolve(`${pkg}/bin/anvil${process.platform === 'win32' ? '.exe' : ''}`)
  } catch (err) {
    throw missingAnvil(err)
  }
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

/** eth_chainId at `rpcUrl`, or undefined when nothing answers. */
export async function chainIdAt(rpcUrl: string, timeoutMs = 1000): Promise<number | undefined> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const body = await res.json() as { result?: string }
    return typeof body.result === 'string' ? Number.parseInt(body.result, 16) : undefined
  } catch {
    return undefined
  }
}

export type AnvilStart = { binary: string; port: number; chainId: number; stateFile: string; logFile: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Start anvil detached on 127.0.0.1:port and wait until it answers; returns its pid. */
export async function startAnvil(o: AnvilStart): Promise<number> {
  const args = [
    '--host', '127.0.0.1', '--port', String(o.port), '--chain-id', String(o.chainId),
    '--state', o.stateFile, '--state-interval', '1',
    // keeps memory bounded and stops anvil writing evicted states under ~/.foundry; a bare flag races eth_call
    '--prune-history', '256',
    '--silent',
  ]
  const log = openSync(o.logFile, 'a', 0o600)
  let exited: { code: number | null; signal: string | null } | undefined
  let spawnError: Error | undefined
  // anvil writes its state file with the process umask: keep it private like the rest of VEND_HOME
  const umask = process.umask(0o077)
  let child: ReturnType<typeof spawn>
  try { child = spawn(o.binary, args, { detached: true, stdio: ['ignore', log, log] }) } finally { process.umask(umask) }
  closeSync(log)
  child.once('error', (err) => { spawnError = err })
  child.once('exit', (code, signal) => { exited = { code, signal } })
  child.unref()
  const url = `http://127.0.0.1:${o.port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    if (spawnError) throw (spawnError as NodeJS.ErrnoException).code === 'ENOENT' || (spawnError as NodeJS.ErrnoException).code === 'EACCES' ? missingAnvil(spawnError) : spawnError
    if (exited) {
      const tail = readFileSync(o.logFile, 'utf8').trim().split('\n').slice(-3).join(' ').slice(-400)
      if (/address already in use/i.test(tail)) throw new DevChainPortInUseError({ port: o.port })
      if (/failed to parse json file/i.test(tail)) throw new DevChainStateDamagedError({ stateFile: o.stateFile })
      throw new DevChainStartError({ reason: `it exited (${exited.signal ?? `code ${exited.code}`}): ${tail}`, logFile: o.logFile })
    }
    if (child.pid !== undefined && await chainIdAt(url, 500) === o.chainId) return child.pid
    if (Date.now() > deadline) {
      try { process.kill(child.pid ?? 0, 'SIGTERM') } catch { /* gone */ }
      throw new DevChainStartError({ reason: 'it did not answer within 20 s', logFile: o.logFile })
    }
    await sleep(20)
  }
}

/** The process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/** True unless /proc shows that `pid` is now some other program (pid reuse after a reboot). */
export function looksLikeAnvil(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('anvil')
  } catch {
    return process.platform !== 'linux' && isAlive(pid)
  }
}

/** SIGTERM (anvil dumps its state on the way out) and wait until the process is gone. */
export async function stopAnvil(pid: number, timeoutMs = 60_000): Promise<void> {
  try { process.kill(pid, 'SIGTERM') } catch { return }
  const deadline = Date.now() + timeoutMs
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      throw new DevChainStopTimeoutError({ pid, seconds: Math.round(timeoutMs / 1000) })
    }
    await sleep(20)
  }
}
