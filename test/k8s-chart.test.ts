/**
 * The Helm chart, rendered by a real helm (static binary from an npm package, scripts/fetch-helm.mjs): lint clean,
 * every rendered manifest valid against the Kubernetes schemas (kubernetes-models), least-privilege RBAC,
 * hardened pods, and the stack settings it mounts readable by vend.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments, parse } from 'yaml'
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role'
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { StackConfig } from '../src/state/stackConfig.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const CHART = `${root}charts/vend`
const CI_VALUES = `${CHART}/ci/test-values.yaml`
let helmBin = ''

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: any }

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/Ingress': Ingress,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
}

function helm(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(helmBin, args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: '/nonexistent-offline', HOME: root } })
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr }
}

function render(...args: string[]): Obj[] {
  const r = helm(['template', 'shop', CHART, '--namespace', 'sales', '--include-crds', ...args])
  assert.equal(r.code, 0, r.err)
  return parseAllDocuments(r.out).map((d) => d.toJS() as Obj).filter(Boolean)
}

const find = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name)
  assert.ok(o, `${kind} ${name} is rendered`)
  return o
}

before(() => {
  const r = spawnSync(process.execPath, [`${root}scripts/fetch-helm.mjs`], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  helmBin = r.stdout.trim()
})

test('helm lint --strict is clean with the CI values', () => {
  const r = helm(['lint', '--strict', CHART, '-f', CI_VALUES])
  assert.equal(r.code, 0, r.out + r.err)
  assert.doesNotMatch(r.out, /\[(WARNING|ERROR)\]/)
})

test('every rendered manifest passes the Kubernetes schema of its kind', () => {
  const objs = render('-f', CI_VALUES)
  assert.ok(objs.length >= 12)
  for (const o of objs) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`]
    assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}`)
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`)
  }
  // the schemas can fail: a wrong type is caught
  const dep = structuredClone(find(objs, 'Deployment', 'shop-vend-gateway'))
  dep.spec.replicas = 'two'
  assert.throws(() => new Deployment(dep).validate(), /replicas/)
})

test('RBAC is least privilege: the controller writes only offer status and its Lease, gateways only read offers', () => {
  const objs = render('-f', CI_VALUES)
  assert.deepEqual(find(objs, 'Role', 'shop-vend-controller').rules, [
    { apiGroups: ['vend.dev'], resources: ['serviceoffers'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['vend.dev'], resources: ['serviceoffers/status'], verbs: ['update', 'patch'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
  ])
  assert.deepEqual(find(objs, 'Role', 'shop-vend-gateway').rules, [
    { apiGroups: ['vend.dev'], resources: ['serviceoffers'], verbs: ['get', 'list', 'watch'] },
  ])
  assert.ok(!objs.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'))
  for (const role of ['controller', 'gateway']) {
    const rb = find(objs, 'RoleBinding', `shop-vend-${role}`)
    assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: `shop-vend-${role}`, namespace: 'sales' }])
  }
})

test('both roles run the one image hardened, with probes, secrets by reference and the values applied', () => {
  const objs = render('-f', CI_VALUES, '--set', 'gateway.replicas=3', '--set', 'image.tag=1.2.3', '--set', 'gateway.resources.limits.memory=1Gi')
  for (const role of ['controller', 'gateway']) {
    const d = find(objs, 'Deployment', `shop-vend-${role}`)
    const pod = d.spec.template.spec
    const [c] = pod.containers
    assert.equal(c.image, 'ghcr.io/vend/vend:1.2.3')
    assert.deepEqual(c.args, ['serve', '--engine', 'kubernetes', '--role', role])
    assert.equal(pod.securityContext.runAsNonRoot, true)
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
    assert.equal(c.livenessProbe.httpGet.path, '/healthz')
    assert.equal(c.readinessProbe.httpGet.path, '/readyz')
    // writable paths are emptyDirs only
    const writable = c.volumeMounts.filter((m: any) => !m.readOnly).map((m: any) => pod.volumes.find((v: any) => v.name === m.name))
    assert.ok(writable.every((v: any) => v.emptyDir), role)
    const dbEnv = c.env.find((e: any) => e.name === 'DATABASE_URL')
    assert.deepEqual(dbEnv.valueFrom, { secretKeyRef: { name: 'vend-db', key: 'DATABASE_URL' } })
    assert.ok(!c.env.some((e: any) => 'value' in e && /postgres:|passphrase/i.test(String(e.value))), 'no secret values inline')
  }
  const gw = find(objs, 'Deployment', 'shop-vend-gateway')
  assert.equal(gw.spec.replicas, 3)
  assert.equal(gw.spec.template.spec.containers[0].resources.limits.memory, '1Gi')
  assert.equal(find(objs, 'Deployment', 'shop-vend-controller').spec.replicas, 1)
  assert.ok(find(objs, 'Deployment', 'shop-vend-gateway').spec.template.spec.volumes.some((v: any) => v.secret?.secretName === 'vend-wallet'))
  assert.ok(!find(objs, 'Deployment', 'shop-vend-controller').spec.template.spec.volumes.some((v: any) => v.secret), 'the controller never gets the wallet')
  const svc = find(objs, 'Service', 'shop-vend')
  assert.equal(svc.spec.selector['app.kubernetes.io/component'], 'gateway')
  assert.equal(find(objs, 'PodDisruptionBudget', 'shop-vend-gateway').spec.minAvailable, 1)
  assert.equal(find(objs, 'CustomResourceDefinition', 'serviceoffers.vend.dev').spec.group, 'vend.dev')
})

test('the mounted stack.yaml is a valid vend stack config', () => {
  const cm = find(render('-f', CI_VALUES), 'ConfigMap', 'shop-vend')
  const config = StackConfig.parse(parse(cm.data['stack.yaml']))
  assert.equal(config.listen, '0.0.0.0:8402')
  assert.equal(config.publicUrl, 'https://api.example.com')
  assert.equal(config.defaults.facilitator, 'https://facilitator.example.com')
})

test('replicated gateways without a shared ledger are refused; HTTPRoute replaces Ingress when chosen', () => {
  const r = helm(['template', 'shop', CHART, '--set', 'gateway.replicas=2'])
  assert.notEqual(r.code, 0)
  assert.match(r.err, /shared ledger.*DATABASE_URL/)
  const objs = render('--set', 'database.existingSecret=db', '--set', 'httpRoute.enabled=true', '--set', 'httpRoute.parentRefs[0].name=public')
  const route = find(objs, 'HTTPRoute', 'shop-vend')
  assert.equal(route.apiVersion, 'gateway.networking.k8s.io/v1')
  assert.deepEqual(route.spec.rules[0].backendRefs, [{ name: 'shop-vend', port: 80 }])
  assert.ok(!objs.some((o) => o.kind === 'Ingress'))
})
