/**
 * The daemon (`vend serve`): one per VEND_HOME. It holds the control socket (the single-instance lock), reads
 * stack.yaml, starts the dev chain (--dev), payments, the gateway with the storefront and the buyer endpoints,
 * then runs the reconcile loop (reconcileLoop.ts). The gateway answers 503 on offer paths until the first pass
 * completed (fail closed). Stopping is graceful: in-flight requests finish, then everything is released and the
 * socket goes away last.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import type { DaemonStatus } from './api.ts'
import { createDaemonBuyer } from '../buyer/createBuyer.ts'
import { dashboardToken } from '../dashboard/access.ts'
import { createDashboardHandler } from '../dashboard/createDashboardHandler.ts'
import { demoUpstream } from '../demo/upstream.ts'
import { createGateway, type Gateway } from '../gateway/createGateway.ts'
import type { DevChainInfo } from '../devchain/devChain.ts'
import { createPayments, type Payments } from '../payments/createPayments.ts'
import type { CatalogEntry, OfferStatus } from '../reconciler/types.ts'
import { ensureDir } from '../state/atomicWrite.ts'
import { openDatabase, startWalCheckpointer } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import { baseUrl, readStackConfig, type StackConfig } from '../state/stackConfig.ts'
import { createStorefrontHandler } from '../storefront/createStorefrontHandler.ts'
import { renderPaymentPage } from '../storefront/renderPaymentPage.ts'
import { controlSocketPath, listenControlSocket, probeControlSocket, removeStaleSocket, type ControlReply } from './controlSocket.ts'
import { isProcessAlive, readDaemonRecord, removeDaemonRecord, writeDaemonRecord } from './daemonRecord.ts'
import { DaemonAlreadyRunningError } from './errors.ts'
import type { DaemonIdentity } from './identity.ts'
import { createLogger, type Logger } from './log.ts'
import { createReconcileLoop } from './reconcileLoop.ts'

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

export type DaemonOptions = {
  /** How long in-flight requests may take to finish on shutdown (default 30 s). */
  graceMs?: number
  /** Stop gracefully on SIGTERM/SIGINT (runDaemon: true). */
  handleSignals?: boolean
  /** Upstream health probe period (default 5 s). */
  healthIntervalMs?: number
  /** Full rescan + reconcile period (default 10 s). */
  resyncIntervalMs?: number
}

export type Daemon = {
  readonly socket: string
  readonly listen: string
  readonly url: string
  status(opts?: { offers?: boolean }): DaemonStatus
  /** The status of one offer ("<namespace>/<name>") after the last pass. */
  offer(key: string): OfferStatus | undefined
  /** Rescan the files, wait for pending upstream probes, reconcile; resolves when the pass finished. */
  reconcile(): Promise<void>
  /** Graceful: stop accepting, finish in-flight requests (up to graceMs), release everything. */
  stop(reason?: string): Promise<void>
  readonly stopped: Promise<void>
}

/** What `vend serve` runs: start the daemon and return once it has stopped. */
export async function runDaemon(paths: HomePaths, opts: DaemonOptions = {}): Promise<void> {
  const daemon = await startDaemon(paths, { handleSignals: true, ...opts })
  await daemon.stopped
}

export async function startDaemon(paths: HomePaths, opts: DaemonOptions = {}): Promise<Daemon> {
  ensureDir(paths.stateDir, 0o700)
  ensureDir(paths.offersDir, 0o700)
  const logger = createLogger(paths.log)
  const socket = controlSocketPath(paths)
  const startedAt = new Date().toISOString()
  let d: Daemon | undefined
  let control: Server | undefined
  try {
    control = await takeControlSocket(paths, socket, logger, (method, path) => handleControl(d, method, path))
    d = await startRunning(paths, socket, startedAt, logger, control, opts)
    return d
  } catch (err) {
    logger.error('Failed to start daemon', { error: err })
    if (control) await closeServer(control)
    if (control) removeStaleSocket(socket)
    logger.close()
    throw err
  }
}

async function takeControlSocket(paths: HomePaths, socket: string, logger: Logger, handler: (method: string, path: string) => Promise<ControlReply>): Promise<Server> {
  const state = await probeControlSocket(socket)
  if (state === 'running') throw new DaemonAlreadyRunningError({ root: paths.root, socket })
  const record = readDaemonRecord(paths)
  if (record && record.pid !== process.pid && !isProcessAlive(record.pid)) {
    logger.warn('Found leftovers of a daemon that did not stop cleanly', { pid: record.pid, startedAt: record.startedAt })
    removeDaemonRecord(paths)
  }
  if (state === 'stale' && removeStaleSocket(socket)) logger.warn('Removed a stale control socket', { socket })
  const onError = (err: unknown): void => logger.error('Failed to answer a control request', { error: err })
  try {
    return await listenControlSocket(socket, handler, onError)
  } catch (err) {
    // Another daemon took the socket between our probe and our listen.
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new DaemonAlreadyRunningError({ root: paths.root, socket })
    throw err
  }
}

async function handleControl(d: Daemon | undefined, method: string, rawPath: string): Promise<ControlReply> {
  const url = new URL(rawPath, 'http://vend.sock')
  if (method === 'GET' && url.pathname === '/status') {
    return { status: 200, body: d ? d.status({ offers: url.searchParams.get('offers') !== 'false' }) : { running: true, pid: process.pid, ready: false, version: VERSION } }
  }
  if (!d) return { status: 503, body: { error: 'The daemon is starting.' } }
  if (method === 'POST' && url.pathname === '/reconcile') {
    await d.reconcile()
    const s = d.status({ offers: false })
    return { status: 200, body: { reconciled: true, ready: s.ready } }
  }
  const m = /^\/offers\/([^/]+)\/([^/]+)$/.exec(url.pathname)
  if (method === 'GET' && m) {
    const key = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`
    const s = d.offer(key)
    return s ? { status: 200, body: s } : { status: 404, body: { error: `No offer ${key}.` } }
  }
  if (method === 'POST' && url.pathname === '/shutdown') {
    setImmediate(() => { void d.stop('shutdown requested') })
    return { status: 202, body: { stopping: true } }
  }
  return { status: 404, body: { error: `No ${method} ${url.pathname} on the control socket.` } }
}

async function startRunning(
  paths: HomePaths, socket: string, startedAt: string, logger: Logger, control: Server, opts: DaemonOptions,
): Promise<Daemon> {
  const graceMs = opts.graceMs ?? 30_000
  const config = readStackConfig(paths)
  const db = openDatabase(paths.db)
  const checkpointer = startWalCheckpointer(db)
  let gateway: Gateway | undefined
  let payments: Payments | undefined
  try {
    const devChain = await startDevChain(paths, config, logger)
    payments = createPayments({ db, config, devChain, log: logger })
    await payments.start()

    let catalog: CatalogEntry[] = []
    let url = config.publicUrl ? baseUrl(config) : ''
    let identity: DaemonIdentity | undefined
    const storefront = createStorefrontHandler({
      getCatalog: () => catalog, baseUrl: () => url,
      getRegistrationFile: () => identity?.registrationFile(catalog, url),
    })
    // Operator dashboard (src/dashboard): /dashboard* for this machine, or for whoever holds the dashboardToken.
    const dashboard = createDashboardHandler({ db, token: dashboardToken(config), getStatuses: () => core.report(true).offers ?? [], getOffers: () => core.resolved() })
    // Buyer side (src/buyer): /buy/* for loopback clients, paid from the stack wallet; purchases are read from their files.
    const buyer = createDaemonBuyer({ paths, db, ledger: payments.ledger, devChain, log: (event, fields) => logger.info(event, fields) })
    gateway = createGateway({
      listen: config.listen,
      baseUrl: () => url,
      systemHandler: async (req, res, u) => (await buyer.handle(req, res, u)) || (await dashboard(req, res, u)) || demoUpstream(req, res, u) || storefront(req, res, u),
      renderPaymentPage,
      log: (event, fields) => logger.info(event, fields),
      paymentGate: payments.gate,
    })
    const addr = await gateway.start()
    const listen = addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`
    if (!url) url = baseUrl({ ...config, listen })
    writeDaemonRecord(paths, { pid: process.pid, socket, listen, url, startedAt })

    // ERC-8004 loads only once an offer registers, a moment after the pass that found it: its chain and keystore
    // libraries take a second or more to import (blocking), and until it reports those offers are Registered=False.
    let identityLoading = false
    const loadIdentity = (): void => {
      if (identityLoading) return
      identityLoading = true
      setTimeout(() => {
        import('./identity.ts').then(({ createDaemonIdentity }) => {
          if (stopping) return
          identity = createDaemonIdentity({ paths, db, config, devChain, logger, baseUrl: () => url, onChange: core.trigger })
          // Its observations start empty, as they were: no pass needed until it reports (onChange).
          identity.setOffers(core.resolved().values())
        }).catch((err: unknown) => logger.error('Failed to start ERC-8004 registration', { error: err }))
      }, IDENTITY_DELAY_MS).unref()
    }
    const core = createReconcileLoop({ paths, db, logger, gateway, payments, identity: () => identity, loadIdentity, setCatalog: (c) => { catalog = c }, opts })
    let resolveStopped!: () => void
    const stopped = new Promise<void>((r) => { resolveStopped = r })
    let stopping: Promise<void> | undefined
    const stop = (reason: string): Promise<void> => (stopping ??= (async () => {
      logger.info('Stopping daemon', { reason, inFlight: gateway!.inFlight() })
      clearInterval(homeCheck)
      if (opts.handleSignals) { process.off('SIGTERM', onSignal); process.off('SIGINT', onSignal) }
      await core.close()
      await gateway!.stop(graceMs)
      await core.release()
      await payments!.stop()
      await checkpointer.stop()
      db.close()
      removeDaemonRecord(paths)
      await closeServer(control)
      removeStaleSocket(socket)
      logger.info('Stopped daemon', { reason })
      logger.close()
      resolveStopped()
    })())
    const onSignal = (signal: NodeJS.Signals): void => { void stop(signal) }
    if (opts.handleSignals) { process.on('SIGTERM', onSignal); process.on('SIGINT', onSignal) }
    // A home deleted under a running daemon (rm -rf, a test's cleanup) takes its control socket with it: nothing
    // could stop the daemon any more, so it stops itself.
    const homeCheck = setInterval(() => { if (!existsSync(paths.stateDir)) void stop('its VEND_HOME was removed') }, HOME_CHECK_MS)
    homeCheck.unref()

    const daemon: Daemon = {
      socket, listen, url, stopped,
      status: (o) => ({
        running: true, pid: process.pid, listen, url, ready: core.ready() && gateway!.isReady() && !stopping, startedAt, version: VERSION,
        ...(stopping ? { stopping: true } : {}),
        ...core.report(o?.offers ?? true),
        facilitators: payments!.facilitators(),
        devChain: devChain ? { rpcUrl: devChain.rpcUrl, chainId: devChain.chainId } : undefined,
      }),
      offer: core.offer,
      reconcile: () => core.pass({ awaitProbes: true }),
      stop: (reason = 'stop requested') => stop(reason),
    }

    await core.start()
    logger.info('Started daemon', { pid: process.pid, listen, url, socket, version: VERSION, dev: devChain?.rpcUrl })
    return daemon
  } catch (err) {
    await gateway?.stop(0)
    await payments?.stop()
    await checkpointer.stop()
    db.close()
    removeDaemonRecord(paths)
    throw err
  }
}

/** `stack up --dev`: start (or reuse, or join) the dev chain before the first pass; payments settle on it locally. */
async function startDevChain(paths: HomePaths, config: StackConfig, logger: Logger): Promise<DevChainInfo | undefined> {
  if (!config.dev?.enabled) return undefined
  const { ensureDevChain } = await import('../devchain/devChain.ts')
  const info = await ensureDevChain(paths, { chainId: config.dev.chainId, ...(config.dev.join ? { join: config.dev.join } : {}) })
  logger.info(config.dev.join ? 'Joined dev chain' : 'Started dev chain', { rpcUrl: info.rpcUrl, chainId: info.chainId })
  return info
}

const IDENTITY_DELAY_MS = 500
const HOME_CHECK_MS = 2000

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
