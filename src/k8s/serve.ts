/**
 * `vend serve --engine kubernetes --role controller|gateway`: what the chart's pods run.
 * Environment (set by charts/vend): VEND_STACK_CONFIG (stack.yaml from the ConfigMap), VEND_NAMESPACE, POD_NAME,
 * VEND_HOME (an emptyDir), DATABASE_URL (Postgres ledger; without it the ledger is SQLite in VEND_HOME, fine for
 * one replica only). Both roles observe upstreams with the embedded engine's observers and reconcile with the same
 * reconcile(); the controller writes statuses, each gateway builds its own route table and serves paid requests.
 */
import { createServer } from 'node:http'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { KubeConfig } from '@kubernetes/client-node'
import { parse } from 'yaml'
import { createObservers } from '../engine/observers.ts'
import { InvalidInputError } from '../errors/base.ts'
import { createGateway } from '../gateway/createGateway.ts'
import { createFacilitatorRegistry } from '../payments/facilitators/registry.ts'
import { createSqliteLedger } from '../payments/ledger/sqliteLedger.ts'
import type { Ledger } from '../payments/ledger/types.ts'
import { createPayments } from '../payments/createPayments.ts'
import type { PaymentsLog } from '../payments/settlement.ts'
import type { CatalogEntry, DesiredOffer } from '../reconciler/types.ts'
import { openDatabase, startWalCheckpointer } from '../state/db.ts'
import type { OfferFileRecord } from '../state/offerStore.ts'
import { baseUrl, splitHostPort, StackConfig } from '../state/stackConfig.ts'
import { createStorefrontHandler } from '../storefront/createStorefrontHandler.ts'
import { renderPaymentPage } from '../storefront/renderPaymentPage.ts'
import { createController } from './controller.ts'
import { createGatewayRole } from './gatewayRole.ts'
import { loadKubeConfig } from './kubeConfig.ts'
import type { ObserveFn } from './offerWatch.ts'
import { createPostgresLedger } from './postgresLedger.ts'

export type Role = 'controller' | 'gateway'
export type RunningRole = { url: string; ready(): boolean; stop(): Promise<void> }

export type ServeOptions = {
  env?: NodeJS.ProcessEnv
  /** Default: loadKubeConfig() (in-cluster service account, or KUBECONFIG). */
  kubeConfig?: KubeConfig
  log?: PaymentsLog
  /** Override stack.yaml's listen address (tests: 127.0.0.1:0). */
  listen?: string
}

const jsonLog: PaymentsLog = {
  info: (msg, f) => console.log(JSON.stringify({ level: 'info', msg, ...f })),
  warn: (msg, f) => console.log(JSON.stringify({ level: 'warn', msg, ...f })),
  error: (msg, f) => console.log(JSON.stringify({ level: 'error', msg, ...f })),
}

function readConfig(env: NodeJS.ProcessEnv): StackConfig {
  const file = env.VEND_STACK_CONFIG
  if (!file || !existsSync(file)) return StackConfig.parse({})
  const res = StackConfig.safeParse(parse(readFileSync(file, 'utf8')) ?? {})
  if (!res.success) throw new InvalidInputError(`${file}: ${res.error.issues[0]!.path.join('.')}: ${res.error.issues[0]!.message}`, { hint: 'Fix the chart values under `stack:`.' })
  return res.data
}

/** The embedded engine's upstream observers and the facilitator registry, as the reconciler's observations. */
function createObservation(config: StackConfig, env: NodeJS.ProcessEnv, onChange: () => void) {
  const observers = createObservers({ onChange, env })
  const registry = createFacilitatorRegistry({ config, env })
  const seen = new Map<string, string>()
  const observe: ObserveFn = (desired: readonly DesiredOffer[], now: number) => {
    const changed = desired.filter((d) => seen.get(d.key) !== d.generation).map((d) => d.key)
    if (changed.length || seen.size !== desired.length) {
      seen.clear()
      for (const d of desired) seen.set(d.key, d.generation)
      const records = desired.map((d) => ({ ...d, path: d.file, mtimeMs: d.createdAt }) as OfferFileRecord)
      observers.setOffers(records, changed)
    }
    return { health: observers.health(now), model: observers.model(), facilitatorFor: (caip2, offer) => registry.observe(caip2, offer), registration: new Map() }
  }
  return { observers, registry, observe }
}

async function openLedger(env: NodeJS.ProcessEnv, owner: string): Promise<{ ledger: Ledger; close(): Promise<void> }> {
  if (env.DATABASE_URL) {
    const ledger = await createPostgresLedger({ connectionString: env.DATABASE_URL, owner })
    return { ledger, close: () => ledger.close() }
  }
  const state = join(env.VEND_HOME ?? '/var/lib/vend', 'state')
  mkdirSync(state, { recursive: true, mode: 0o700 })
  const db = openDatabase(join(state, 'vend.db'))
  const checkpointer = startWalCheckpointer(db)
  return { ledger: createSqliteLedger(db), close: async () => { await checkpointer.stop(); db.close() } }
}

/** A small HTTP server for the controller's probes: /healthz always, /readyz once the offers are listed. */
async function probeServer(listen: string, ready: () => boolean) {
  const [host, port] = splitHostPort(listen)
  const server = createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && ready())
    res.writeHead(ok ? 200 : req.url === '/readyz' ? 503 : 404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ok }))
  })
  await new Promise<void>((r) => server.listen(port, host, r))
  const addr = server.address() as { port: number }
  return { url: `http://${host}:${addr.port}`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }) }
}

export async function startKubernetesRole(role: Role, opts: ServeOptions = {}): Promise<RunningRole> {
  const env = opts.env ?? process.env
  const log = opts.log ?? jsonLog
  const config = readConfig(env)
  const kc = opts.kubeConfig ?? loadKubeConfig()
  const namespace = env.VEND_NAMESPACE ?? 'default'
  const identity = env.POD_NAME ?? hostname()
  const listen = opts.listen ?? config.listen
  let reconcileNow = () => {}
  const obs = createObservation(config, env, () => reconcileNow())
  await obs.registry.refreshAll()

  if (role === 'controller') {
    const controller = createController({ kc, namespace, identity, observe: obs.observe, log })
    reconcileNow = () => { void controller.reconcileNow().catch(() => {}) }
    let ready = false
    const probes = await probeServer(listen, () => ready)
    await controller.start()
    ready = true
    return {
      url: probes.url, ready: () => ready,
      async stop() { ready = false; await controller.stop(); obs.observers.stop(); await obs.observers.close(); await obs.registry.close(); await probes.close() },
    }
  }

  const { ledger, close } = await openLedger(env, identity)
  const payments = createPayments({ ledger, registry: obs.registry, config, log, env })
  await payments.start()
  let catalog: CatalogEntry[] = []
  const storefront = createStorefrontHandler({ getCatalog: () => catalog, baseUrl: () => baseUrl(config) })
  const gateway = createGateway({ listen, baseUrl: () => baseUrl(config), paymentGate: payments.gate, systemHandler: storefront, renderPaymentPage })
  const addr = await gateway.start()
  const gw = createGatewayRole({
    kc, namespace, observe: obs.observe, log,
    apply: (routes, entries) => { catalog = entries; gateway.setRoutes(obs.observers.routes(routes)) },
  })
  reconcileNow = () => { void gw.reconcileNow().catch(() => {}) }
  await gw.start()
  return {
    url: `http://${addr.host}:${addr.port}`, ready: () => gw.ready() && gateway.isReady(),
    async stop() {
      await gw.stop()
      obs.observers.stop()
      await gateway.stop()
      await payments.stop()
      await obs.observers.close()
      await obs.registry.close()
      await close()
    },
  }
}

/** Foreground entry point for the CLI: runs until SIGTERM/SIGINT, then drains. */
export async function runKubernetesRole(role: string): Promise<void> {
  if (role !== 'controller' && role !== 'gateway') {
    throw new InvalidInputError(`Unknown --role "${role}".`, { hint: 'Use --role controller or --role gateway.' })
  }
  const running = await startKubernetesRole(role)
  jsonLog.info('Serving', { role, url: running.url })
  await new Promise<void>((resolve) => {
    const stop = () => { void running.stop().finally(resolve) }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
}
