/**
 * `vend serve --engine kubernetes` roles in-process against the fake API server test double: the gateway role serves
 * the offers it watches (free route proxied to a real upstream, paid route answers 402) and is ready only after its
 * first sync; the controller role probes the upstream and marks the offer Ready in its status.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { KubeConfig } from '@kubernetes/client-node'
import { API_VERSION, KIND } from '../src/offer/schema.ts'
import { startKubernetesRole } from '../src/k8s/serve.ts'
import { GROUP, PLURAL, VERSION } from '../src/k8s/resources.ts'
import { startFakeApiServer, type FakeApiServer } from './helpers/fakeApiServer.ts'

let api: FakeApiServer
let upstream: Server
let upstreamUrl: string
let dir: string
let env: NodeJS.ProcessEnv
let kc: KubeConfig
const quiet = { info() {}, warn() {}, error() {} }

before(async () => {
  api = await startFakeApiServer()
  upstream = createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ path: req.url })) })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  dir = mkdtempSync(join(tmpdir(), 'vend-k8s-serve-'))
  writeFileSync(join(dir, 'stack.yaml'), 'facilitators: [{network: "*", url: "http://127.0.0.1:9/facilitator"}]\n')
  env = { VEND_STACK_CONFIG: join(dir, 'stack.yaml'), VEND_NAMESPACE: 'default', POD_NAME: 'pod-1', VEND_HOME: join(dir, 'home') }
  kc = new KubeConfig()
  kc.loadFromOptions({ clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' })
  api.put(GROUP, VERSION, PLURAL, 'default', {
    apiVersion: API_VERSION, kind: KIND, metadata: { name: 'weather' },
    spec: {
      type: 'http', upstream: { url: upstreamUrl }, registration: { enabled: false }, routes: [{ path: '/free', gate: 'free' }, { path: '/*' }],
      payment: { network: 'base-sepolia', payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', price: { perRequest: '0.001' } },
    },
  })
})

after(async () => {
  await api.close()
  await new Promise<void>((r) => { upstream.closeAllConnections(); upstream.close(() => r()) })
  rmSync(dir, { recursive: true, force: true })
})

async function until<T>(fn: () => Promise<T | undefined | false>): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = await fn()
    if (v) return v
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('timed out')
}

test('gateway role: serves the watched offers after its first sync', async () => {
  const gw = await startKubernetesRole('gateway', { env, kubeConfig: kc, log: quiet, listen: '127.0.0.1:0' })
  try {
    assert.equal(gw.ready(), true)
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200)
    const free = await until(async () => { const r = await fetch(`${gw.url}/services/weather/free`); return r.status === 200 && r })
    assert.deepEqual(await free.json(), { path: '/free' })
    const paid = await fetch(`${gw.url}/services/weather/report`)
    assert.equal(paid.status, 402)
    assert.ok(paid.headers.get('payment-required'))
    // the storefront lists what the replica serves
    const services = await (await fetch(`${gw.url}/api/services.json`)).json() as { services?: { name?: string }[] }
    assert.match(JSON.stringify(services), /weather/)
  } finally { await gw.stop() }
})

test('controller role: the offer becomes Ready in its status once the upstream answers', async () => {
  const ctl = await startKubernetesRole('controller', { env, kubeConfig: kc, log: quiet, listen: '127.0.0.1:0' })
  try {
    assert.equal((await fetch(`${ctl.url}/readyz`)).status, 200)
    const ready = await until(async () => {
      const o = api.objects(PLURAL, 'default')[0] as any
      return o.status?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status === 'True' && o
    })
    assert.equal(ready.status.conditions.find((c: { type: string }) => c.type === 'UpstreamHealthy').status, 'True')
    assert.equal(ready.status.path, '/services/weather')
  } finally { await ctl.stop() }
})
