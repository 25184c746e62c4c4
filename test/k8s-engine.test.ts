/**
 * `stack up --engine kubernetes` against the fake API server test double (no kube-apiserver here): the real
 * @kubernetes/client-node, a kubeconfig file found through KUBECONFIG, and helm replaced by a recorder (helm cannot
 * reach a stub cluster; the chart itself is tested by k8s-chart.test.ts). Files are the source of truth:
 * idempotent, deleted files prune their CRs, CRs without the ownership label are left alone.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { API_VERSION, KIND } from '../src/offer/schema.ts'
import { deleteOffer, writeOffer } from '../src/state/offerStore.ts'
import { homePaths, type HomePaths } from '../src/state/home.ts'
import { CHART_DIR, kubernetesEngine, type HelmRunner } from '../src/k8s/engine.ts'
import { GROUP, MANAGED_BY_LABEL, PLURAL } from '../src/k8s/resources.ts'
import { startFakeApiServer, type FakeApiServer } from './helpers/fakeApiServer.ts'

const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
let api: FakeApiServer
let dir: string
let paths: HomePaths
const helmCalls: string[][] = []
const helm: HelmRunner = async (args) => { helmCalls.push(args); return { code: 0, stdout: '', stderr: '' } }

const offer = (name: string, price = '0.001', namespace = 'default') => ({
  apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace },
  spec: { type: 'http', upstream: { url: 'http://127.0.0.1:9/api' }, payment: { network: 'base-sepolia', payTo: PAY_TO, price: { perRequest: price } } },
})

before(async () => {
  api = await startFakeApiServer()
  dir = mkdtempSync(join(tmpdir(), 'vend-k8s-engine-'))
  paths = homePaths(join(dir, 'home'))
  const kubeconfig = join(dir, 'kubeconfig')
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'other',
    clusters: [{ name: 'fake', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }, { name: 'nowhere', cluster: { server: 'http://127.0.0.1:9', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u' } }, { name: 'other', context: { cluster: 'nowhere', user: 'u' } }],
  }))
  process.env.KUBECONFIG = kubeconfig
})

after(async () => {
  await api.close()
  rmSync(dir, { recursive: true, force: true })
})

const engine = () => kubernetesEngine(paths, { context: 'fake', namespace: 'shop', helm })
const writes = () => api.requests.filter((r) => /^(PATCH|PUT|POST|DELETE) /.test(r))
const names = () => api.objects(PLURAL, 'shop').map((o) => o.metadata.name)

test('stack up installs the chart, then applies every offer file as a labelled ServiceOffer by server-side apply', async () => {
  writeOffer(paths, offer('weather'))
  writeOffer(paths, offer('jokes', '0.002', 'fun'))
  const res = await engine().up({})
  assert.deepEqual(helmCalls[0], ['upgrade', '--install', 'vend', CHART_DIR, '--namespace', 'shop', '--kube-context', 'fake', '--create-namespace'])
  assert.deepEqual(res.offers.applied.sort(), ['jokes', 'weather'])
  assert.deepEqual(names(), ['jokes', 'weather'])
  const jokes = api.objects(PLURAL, 'shop')[0]!
  assert.equal(jokes.metadata.labels[MANAGED_BY_LABEL], 'vend-cli')
  assert.equal(jokes.metadata.labels['vend.dev/offer-namespace'], 'fun')
  assert.deepEqual(jokes.metadata.managedFields.map((m: { manager: string }) => m.manager), ['vend'])
  assert.equal((jokes.spec as any).payment.price.perRequest, '0.002')
  assert.ok(writes().every((w) => !w.startsWith('PATCH') || w.includes('fieldManager=vend') && w.endsWith('application/apply-patch+yaml')))
})

test('stack up twice is idempotent: the second run writes nothing', async () => {
  const before = writes().length
  const rv = api.objects(PLURAL, 'shop').map((o) => o.metadata.resourceVersion)
  const res = await engine().up({})
  assert.deepEqual(res.offers.applied, [])
  assert.deepEqual(res.offers.unchanged.sort(), ['jokes', 'weather'])
  assert.equal(writes().length, before)
  assert.deepEqual(api.objects(PLURAL, 'shop').map((o) => o.metadata.resourceVersion), rv)
})

test('a changed file is re-applied; a deleted file prunes its CR; a CR without the ownership label is left alone', async () => {
  api.put(GROUP, 'v1alpha1', PLURAL, 'shop', { ...offer('gitops'), metadata: { name: 'gitops', labels: { team: 'a' } } })
  writeOffer(paths, offer('weather', '0.005'))
  assert.ok(deleteOffer(paths, 'fun', 'jokes'))
  const res = await engine().up({})
  assert.deepEqual(res.offers.applied, ['weather'])
  assert.deepEqual(res.offers.pruned, ['jokes'])
  assert.deepEqual(names(), ['gitops', 'weather'])
  assert.equal((api.objects(PLURAL, 'shop')[1]!.spec as any).payment.price.perRequest, '0.005')
  assert.equal(api.objects(PLURAL, 'shop')[1]!.metadata.generation, 2)
})

test('an invalid offer file is reported and keeps its last applied CR', async () => {
  writeFileSync(join(paths.offersDir, 'default', 'weather.yaml'), 'apiVersion: vend.dev/v1alpha1\nkind: ServiceOffer\nmetadata: {name: weather}\nspec: {type: nope}\n')
  const res = await engine().up({})
  assert.equal(res.offers.skipped.length, 1)
  assert.match(res.offers.skipped[0]!.file, /weather\.yaml$/)
  assert.deepEqual(res.offers.pruned, [])
  assert.deepEqual(names(), ['gitops', 'weather'])
})

test('status lists the ServiceOffers with their conditions; an unknown context is a clear error', async () => {
  const st = await engine().status()
  assert.equal(st.running, true)
  assert.deepEqual(st.offers?.map((o) => o.key), ['default/weather', 'shop/gitops'])
  await assert.rejects(() => kubernetesEngine(paths, { context: 'nope', helm }).status(), /context "nope" is not in your kubeconfig.*fake, other/)
})

test('the helm command stack up builds renders with the real chart (stack settings reach the ConfigMap)', async () => {
  writeFileSync(join(paths.root, 'kubernetes-values.yaml'), 'image: {tag: "9.9.9"}\n')
  helmCalls.length = 0
  await engine().up({ publicUrl: 'https://shop.example.com', facilitator: 'https://fac.example.com' })
  const args = helmCalls[0]!
  assert.deepEqual(args.slice(0, 2), ['upgrade', '--install'])
  const fetched = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/fetch-helm.mjs', import.meta.url))], { encoding: 'utf8' })
  assert.equal(fetched.status, 0, fetched.stderr)
  const templateArgs = ['template', ...args.slice(2).filter((a, i, all) => a !== '--create-namespace' && a !== '--kube-context' && all[i - 1] !== '--kube-context')]
  const r = spawnSync(fetched.stdout.trim(), templateArgs, { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const objs = parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean) as any[]
  const stack = objs.find((o) => o.kind === 'ConfigMap').data['stack.yaml']
  assert.match(stack, /publicUrl: https:\/\/shop.example.com/)
  assert.match(stack, /facilitator: https:\/\/fac.example.com/)
  assert.ok(objs.filter((o) => o.kind === 'Deployment').every((d) => d.spec.template.spec.containers[0].image.endsWith(':9.9.9')))
  assert.ok(objs.every((o) => !o.metadata.namespace || o.metadata.namespace === 'shop'))
})
