/**
 * The ServiceOffer controller and the gateway role against the fake API server test double, with the real
 * @kubernetes/client-node (informers, status subresource, Lease). The controller must write exactly the conditions
 * the embedded engine computes for the same offer file (reconcile() on the file's DesiredOffer), only when they change,
 * and only while it holds the Lease.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { KubeConfig, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { API_VERSION, KIND } from '../src/offer/schema.ts'
import { reconcile } from '../src/reconciler/reconcile.ts'
import type { Condition, DesiredOffer } from '../src/reconciler/types.ts'
import { homePaths, type HomePaths } from '../src/state/home.ts'
import { readOfferFile, writeOffer } from '../src/state/offerStore.ts'
import { applyOffers } from '../src/k8s/applyOffers.ts'
import { createController, type Controller } from '../src/k8s/controller.ts'
import { createGatewayRole } from '../src/k8s/gatewayRole.ts'
import type { ObserveFn } from '../src/k8s/offerWatch.ts'
import { GROUP, PLURAL, VERSION } from '../src/k8s/resources.ts'
import { startFakeApiServer, type FakeApiServer } from './helpers/fakeApiServer.ts'

const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const NS = 'default'
let api: FakeApiServer
let dir: string
let paths: HomePaths
let kc: KubeConfig
const quiet = { info() {}, warn() {} }

const observe: ObserveFn = (desired) => ({
  health: new Map(desired.map((d) => [d.key, { healthy: true, checkedAt: 0, status: 200 }])),
  model: new Map(),
  facilitatorFor: () => ({ configured: true, url: 'http://127.0.0.1:9/facilitator' }),
  registration: new Map(),
})

const offer = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: NS },
  spec: {
    type: 'http', upstream: { url: 'http://127.0.0.1:9/api' }, registration: { enabled: false },
    payment: { network: 'base-sepolia', payTo: PAY_TO, price: { perRequest: '0.001' } }, ...spec,
  },
})

function kubeConfig(server: string): KubeConfig {
  const k = new KubeConfig()
  k.loadFromOptions({ clusters: [{ name: 'c', server, skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: NS }], currentContext: 'x' })
  return k
}

async function until<T>(what: string, fn: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = fn()
    if (v) return v
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const cr = (name: string) => api.objects(PLURAL, NS).find((o) => o.metadata.name === name) as any
const strip = (cs: Condition[]) => cs.map(({ lastTransitionTime: _, ...c }) => c)

before(async () => {
  api = await startFakeApiServer()
  dir = mkdtempSync(join(tmpdir(), 'vend-k8s-ctl-'))
  paths = homePaths(join(dir, 'home'))
  kc = kubeConfig(api.url)
})

after(async () => {
  await api.close()
  rmSync(dir, { recursive: true, force: true })
})

let ctl: Controller

test('the controller writes the same conditions the embedded engine computes for the same offer file', async () => {
  writeOffer(paths, offer('weather'))
  writeOffer(paths, offer('moon', { payment: { network: 'no-such-chain', payTo: PAY_TO, price: { perRequest: '1' } } }))
  await applyOffers(kc, NS, [readOfferFile(paths, NS, 'weather'), readOfferFile(paths, NS, 'moon')])
  // a resource applied by someone else, invalid for the file schema
  api.put(GROUP, VERSION, PLURAL, NS, { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'broken' }, spec: { type: 'ftp' } })

  ctl = createController({ kc, namespace: NS, identity: 'pod-a', observe, log: quiet, leaseSeconds: 15 })
  await ctl.start()
  assert.equal(ctl.isLeader(), true)
  await until('statuses', () => ['weather', 'moon', 'broken'].every((n) => cr(n)?.status?.conditions))

  for (const name of ['weather', 'moon']) {
    const record = readOfferFile(paths, NS, name)
    const d = { ...record, createdAt: 0 } as DesiredOffer
    const embedded = reconcile([d], { now: Date.now(), ...observe([d], 0), previous: new Map() }).statuses.get(`${NS}/${name}`)!
    assert.deepEqual(strip(cr(name).status.conditions), strip(embedded.conditions), name)
    assert.equal(cr(name).status.specHash, record.generation)
    assert.equal(cr(name).status.observedGeneration, 1)
  }
  assert.equal(cr('weather').status.conditions.find((c: Condition) => c.type === 'Ready').status, 'True')
  assert.equal(cr('weather').status.price, '0.001 USDC/request')
  assert.equal(cr('moon').status.conditions[0].status, 'False')
  assert.deepEqual(cr('broken').status.conditions.map((c: Condition) => [c.type, c.status, c.reason]), [['Valid', 'False', 'InvalidSpec'], ['Ready', 'False', 'NotReady']])
  // only through the status subresource: the controller never writes the object itself
  assert.ok(!api.requests.some((r) => /^(PUT|PATCH) .*\/serviceoffers\/[^/]+(\?| |$)/.test(r) && !r.includes('fieldManager=vend')))
})

test('level-triggered and idempotent: no write while nothing changed; a spec change is reflected with stable transition times', async () => {
  await ctl.reconcileNow() // let passes triggered by the controller's own status events finish
  const writesBefore = ctl.writes()
  await ctl.reconcileNow()
  await ctl.reconcileNow()
  assert.equal(ctl.writes(), writesBefore, JSON.stringify(api.requests.slice(-8)))

  const validSince = cr('weather').status.conditions[0].lastTransitionTime
  await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace: NS, plural: PLURAL, name: 'weather', body: { spec: { payment: { price: { perRequest: '0.25' } } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  )
  await until('new price', () => cr('weather').status?.price === '0.25 USDC/request')
  assert.equal(cr('weather').status.observedGeneration, 2)
  assert.equal(cr('weather').status.conditions[0].lastTransitionTime, validSince)
  assert.equal(ctl.writes(), writesBefore + 1, JSON.stringify(api.requests.filter((r) => r.includes('/status')).slice(-6)))
})

test('only the Lease holder writes; when it stops, the other replica takes over', async () => {
  const other = createController({ kc, namespace: NS, identity: 'pod-b', observe, log: quiet, leaseSeconds: 15 })
  await other.start()
  assert.equal(other.isLeader(), false)
  assert.equal(other.writes(), 0)
  await ctl.stop()
  await until('pod-b leads', () => other.isLeader())
  assert.equal((api.objects('leases', NS)[0]!.spec as { holderIdentity: string }).holderIdentity, 'pod-b')
  api.put(GROUP, VERSION, PLURAL, NS, offer('late'))
  await until('status of late', () => cr('late')?.status?.conditions)
  assert.ok(other.writes() >= 1)
  await other.stop()
})

test('the gateway role serves the reconciled routes, and is ready only after the first sync (fail closed)', async () => {
  let routes: string[] = []
  const gw = createGatewayRole({ kc, namespace: NS, observe, log: quiet, apply: (r) => { routes = r.map((e) => e.path) } })
  assert.equal(gw.ready(), false)
  await gw.start()
  assert.equal(gw.ready(), true)
  assert.deepEqual(routes.sort(), ['/services/late', '/services/weather'])
  await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: PLURAL, name: 'late' })
  await until('route removed', () => routes.length === 1)
  await gw.stop()

  const unreachable = createGatewayRole({ kc: kubeConfig('http://127.0.0.1:9'), namespace: NS, observe, log: quiet, apply: () => assert.fail('no routes without a sync') })
  await assert.rejects(unreachable.start())
  assert.equal(unreachable.ready(), false)
  await unreachable.stop()
})
