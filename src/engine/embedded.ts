/**
 * The embedded engine: one background daemon per VEND_HOME (`<bin> serve`, detached, logging to
 * state/daemon.log), driven through its control socket. When the daemon is down, status comes from the
 * database (read-only) and the offer files.
 */
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { InvalidInputError } from '../errors/base.ts'
import type { OfferStatus } from '../reconciler/types.ts'
import { ensureDir } from '../state/atomicWrite.ts'
import { openDatabaseReadOnly } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import { createOfferScanner } from '../state/offerScanner.ts'
import { readStackConfig, StackConfig, writeStackConfig } from '../state/stackConfig.ts'
import { readStatuses } from '../state/statusStore.ts'
import type { DaemonStatus, Engine, StackUpOptions, StackUpResult } from './api.ts'
import { controlRequest, controlSocketPath, probeControlSocket, removeStaleSocket } from './controlSocket.ts'
import { isProcessAlive } from './daemonRecord.ts'
import { DaemonStartFailedError, DaemonStopTimeoutError } from './errors.ts'

export type EmbeddedEngineOptions = {
  /** The `vend` executable whose `serve` command runs the daemon (default: bin/vend of this checkout). */
  binPath?: string
  /** How long up() waits for the daemon to report ready (default 60 s). */
  startTimeoutMs?: number
  /** How long down() waits for the daemon to exit (default 60 s: in-flight requests get 30 s). */
  stopTimeoutMs?: number
}

const DEFAULT_BIN = fileURLToPath(new URL('../../bin/vend', import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export function embeddedEngine(paths: HomePaths, opts: EmbeddedEngineOptions = {}): Engine {
  const socket = controlSocketPath(paths)
  const binPath = opts.binPath ?? DEFAULT_BIN

  const daemonStatus = async (offers: boolean): Promise<DaemonStatus> =>
    (await controlRequest<DaemonStatus>(socket, 'GET', offers ? '/status' : '/status?offers=false')).body

  return {
    async up(options) {
      const config = saveUpOptions(paths, options)
      let state = await probeControlSocket(socket)
      if (state === 'running') {
        const s = await daemonStatus(false)
        if (!s.stopping) return upResult(true, s)
        // A daemon on its way out: wait until it is gone, then start a new one.
        await waitGone(socket, s.pid, Date.now() + (opts.stopTimeoutMs ?? 60_000))
        state = await probeControlSocket(socket)
      }
      if (state === 'stale') removeStaleSocket(socket)

      ensureDir(paths.stateDir, 0o700)
      const out = openSync(paths.log, 'a', 0o600)
      const child = spawn(process.execPath, [binPath, 'serve'], {
        detached: true, stdio: ['ignore', out, out], env: { ...process.env, VEND_HOME: paths.root },
      })
      closeSync(out)
      let exited: string | undefined
      child.once('error', (err) => { exited = `it could not be started (${err.message})` })
      child.once('exit', (code, signal) => { exited = signal ? `it was stopped by ${signal}` : `it exited with code ${code}` })
      child.unref()

      const timeoutMs = opts.startTimeoutMs ?? 60_000
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const s = await daemonStatus(false).catch(() => undefined)
        // Another `up` may have won the race for the socket: its daemon serves the stack just as well.
        if (s?.ready) return upResult(s.pid !== child.pid, s)
        const otherStarting = s?.pid !== undefined && s.pid !== child.pid
        if (exited && !otherStarting) throw new DaemonStartFailedError({ reason: exited + lastLoggedError(paths.log), log: paths.log })
        if (Date.now() > deadline) throw new DaemonStartFailedError({ reason: `it did not report ready within ${Math.round(timeoutMs / 1000)} s (listen ${config.listen})`, log: paths.log })
        await sleep(50)
      }
    },

    async down() {
      const config = readStackConfig(paths)
      const state = await probeControlSocket(socket)
      let wasRunning = false
      if (state === 'stale') removeStaleSocket(socket)
      if (state === 'running') {
        wasRunning = true
        const { pid } = await daemonStatus(false)
        await controlRequest(socket, 'POST', '/shutdown')
        await waitGone(socket, pid, Date.now() + (opts.stopTimeoutMs ?? 60_000))
      }
      if (config.dev?.enabled && !config.dev.join) {
        const { stopDevChain } = await import('../devchain/devChain.ts')
        await stopDevChain(paths)
      }
      return { wasRunning }
    },

    async status() {
      if (await probeControlSocket(socket) === 'running') return daemonStatus(true)
      const db = openDatabaseReadOnly(paths.db)
      let offers: OfferStatus[] = []
      if (db) {
        try { offers = readStatuses(db) } finally { db.close() }
      }
      const problems = createOfferScanner(paths).scan().records.flatMap((r) => (r.problem ? [r.problem] : []))
      return { running: false, offers, problems }
    },

    async waitForOffer(key, generation, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      try {
        await controlRequest(socket, 'POST', '/reconcile', timeoutMs)
      } catch {
        return undefined // not running
      }
      const [ns, name] = key.split('/')
      const path = `/offers/${encodeURIComponent(ns ?? '')}/${encodeURIComponent(name ?? '')}`
      for (;;) {
        const res = await controlRequest<OfferStatus>(socket, 'GET', path).catch(() => undefined)
        if (res?.status === 200 && res.body.generation === generation) return res.body
        if (Date.now() > deadline) return undefined
        await sleep(50)
      }
    },
  }
}

/** Wait until the daemon's socket is gone and its process has exited. */
async function waitGone(socket: string, pid: number | undefined, deadline: number): Promise<void> {
  const started = Date.now()
  while (existsSync(socket) || (pid !== undefined && pid !== process.pid && isProcessAlive(pid))) {
    if (Date.now() > deadline) throw new DaemonStopTimeoutError({ pid: pid ?? 0, seconds: Math.round((deadline - started) / 1000) })
    await sleep(50)
  }
}

/** stack.yaml with the flags of this `up` applied (saved when they change anything). */
function saveUpOptions(paths: HomePaths, o: StackUpOptions): StackConfig {
  const current = readStackConfig(paths)
  const next: Record<string, unknown> = structuredClone(current)
  if (o.listen !== undefined) next.listen = o.listen
  if (o.publicUrl !== undefined) next.publicUrl = o.publicUrl
  if (o.facilitator !== undefined) next.defaults = { ...current.defaults, facilitator: o.facilitator }
  if (o.dev !== undefined || o.devChainId !== undefined || o.devJoin !== undefined) {
    const dev = { ...(current.dev ?? {}) } as Record<string, unknown>
    if (o.dev !== undefined) dev.enabled = o.dev
    else if (current.dev === undefined) dev.enabled = true
    if (o.devChainId !== undefined) dev.chainId = o.devChainId
    if (o.devJoin !== undefined) dev.join = o.devJoin
    next.dev = dev
  }
  const res = StackConfig.safeParse(next)
  if (!res.success) {
    const issue = res.error.issues[0]!
    const flag = FLAG_OF[String(issue.path.join('.'))] ?? issue.path.join('.')
    throw new InvalidInputError(`Invalid ${flag}: ${issue.message}.`, { hint: 'Fix the flag and run `vend stack up` again.' })
  }
  if (JSON.stringify(res.data) !== JSON.stringify(current)) writeStackConfig(paths, res.data)
  return res.data
}

const FLAG_OF: Record<string, string> = {
  listen: '--listen', publicUrl: '--public-url', 'defaults.facilitator': '--facilitator',
  'dev.chainId': '--dev-chain-id', 'dev.join': '--dev-join',
}

function upResult(alreadyRunning: boolean, s: DaemonStatus): StackUpResult {
  const url = s.url ?? ''
  return {
    alreadyRunning, url, listen: s.listen ?? '', pid: s.pid ?? 0,
    urls: { storefront: `${url}/`, services: `${url}/api/services.json`, skill: `${url}/skill.md`, dashboard: `${url}/dashboard` },
  }
}

/** The last error the daemon logged, as ": <message>" (empty when there is none). */
function lastLoggedError(log: string): string {
  let text = ''
  try { text = readFileSync(log, 'utf8').slice(-64 * 1024) } catch { return '' }
  for (const line of text.trim().split('\n').reverse()) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string }
      if (entry.level === 'error') return `: ${entry.error ?? entry.msg}`
    } catch {
      if (/^vend: /.test(line)) return `: ${line.slice(6)}`
    }
  }
  return ''
}
