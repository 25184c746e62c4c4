import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseOfferDocuments } from '../offer/parseOffers.ts'
import { specGeneration } from '../state/offerStore.ts'
import { reconcile } from './reconcile.ts'
import { getCondition } from './conditions.ts'
import type { DesiredOffer, HealthObservation, Observations, OfferStatus, RegistrationObservation } from './types.ts'

const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

function offerYaml(name: string, ns = 'default', extra = ''): string {
  return `apiVersion: vend.dev/v1alpha1
kind: ServiceOffer
metadata: {name: ${name}, namespace: ${ns}}
spec:
  type: http
  upstream: {url: "http://127.0.0.1:9/"}
  payment: {network: base-sepolia, payTo: "${PAY_TO}", price: {perRequest: "0.01"}}
${extra}`
}

function desired(text: string, createdAt = 1, file = 'offers/x.yaml'): DesiredOffer {
  const [d] = parseOfferDocuments(text, file)
  if (!d) throw new Error('no doc')
  if (!d.ok) return { key: 'default/broken', namespace: 'default', name: 'broken', file, createdAt, generation: 'g', problem: d.problem }
  const o = d.offer
  return { key: `${o.metadata.namespace}/${o.metadata.name}`, namespace: o.metadata.namespace, name: o.metadata.name, file, createdAt, generation: specGeneration(o.spec), offer: o }
}

function observations(over: Partial<Observations> & { healthy?: string[]; reg?: Record<string, RegistrationObservation> } = {}): Observations {
  const health = new Map<string, HealthObservation>()
  for (const k of over.healthy ?? []) health.set(k, { healthy: true, status: 200, checkedAt: 0 })
  return {
    now: over.now ?? Date.parse('2026-11-23T00:00:00Z'),
    health: over.health ?? health,
    model: over.model ?? new Map(),
    facilitatorFor: over.facilitatorFor ?? (() => ({ configured: true, supportsNetwork: true, url: 'https://x402.org/facilitator' })),
    registration: over.registration ?? new Map(Object.entries(over.reg ?? {})),
    previous: over.previous ?? new Map(),
  }
}

const c = (s: OfferStatus | undefined, type: Parameters<typeof getCondition>[1]) => s && getCondition(s.conditions, type)

test('a healthy valid offer is ready except for registration, published and catalogued as pending', () => {
  const res = reconcile([desired(offerYaml('a'))], observations({ healthy: ['default/a'] }))
  const s = res.statuses.get('default/a')
  assert.equal(c(s, 'Valid')?.status, 'True')
  assert.equal(c(s, 'UpstreamHealthy')?.status, 'True')
  assert.equal(c(s, 'PaymentGateReady')?.status, 'True')
  assert.equal(c(s, 'RoutePublished')?.status, 'True')
  assert.equal(c(s, 'Registered')?.reason, 'Pending')
  assert.equal(s?.ready, false)
  assert.equal(s?.operationallyReady, true)
  assert.deepEqual(res.routes.map((r) => [r.path, r.state]), [['/services/a', 'serving']])
  assert.equal(res.catalog.length, 1)
  assert.equal(res.catalog[0]?.registrationPending, true)
})

test('registration disabled makes the offer fully Ready; registered on chain likewise', () => {
  const off = reconcile([desired(offerYaml('a', 'default', '  registration: {enabled: false}'))], observations({ healthy: ['default/a'] }))
  assert.equal(c(off.statuses.get('default/a'), 'Registered')?.reason, 'Disabled')
  assert.equal(off.statuses.get('default/a')?.ready, true)
  const on = reconcile([desired(offerYaml('a'))], observations({ healthy: ['default/a'], reg: { 'default/a': { agentId: '7', uriMatches: true, txHash: '0xabc' } } }))
  const s = on.statuses.get('default/a')
  assert.equal(s?.ready, true)
  assert.equal(s?.agentId, '7')
  assert.equal(on.catalog[0]?.registrationPending, false)
})

test('unknown or unhealthy upstream: route published but answers 503 (unhealthy), not in the catalog', () => {
  for (const health of [new Map(), new Map([['default/a', { healthy: false, status: 404, checkedAt: 0 }]])]) {
    const res = reconcile([desired(offerYaml('a'))], observations({ health }))
    assert.deepEqual(res.routes.map((r) => r.state), ['unhealthy'])
    assert.equal(res.catalog.length, 0)
    assert.equal(res.statuses.get('default/a')?.operationallyReady, false)
  }
})

test('no facilitator: not published, reason names what to do', () => {
  const res = reconcile([desired(offerYaml('a'))], observations({ healthy: ['default/a'], facilitatorFor: () => ({ configured: false }) }))
  const s = res.statuses.get('default/a')
  assert.equal(c(s, 'PaymentGateReady')?.reason, 'NoFacilitator')
  assert.match(c(s, 'PaymentGateReady')?.message ?? '', /--facilitator/)
  assert.equal(c(s, 'RoutePublished')?.reason, 'WaitingForPaymentGate')
  assert.equal(res.routes.length, 0)
})

test('path conflict: the older offer wins whatever the order of files', () => {
  const older = desired(offerYaml('a', 'default', '  path: /shared'), 1)
  const newer = desired(offerYaml('b', 'default', '  path: /shared'), 2)
  for (const list of [[older, newer], [newer, older]]) {
    const res = reconcile(list, observations({ healthy: ['default/a', 'default/b'] }))
    assert.deepEqual(res.routes.map((r) => r.key), ['default/a'])
    assert.equal(c(res.statuses.get('default/b'), 'RoutePublished')?.reason, 'PathConflict')
    assert.match(c(res.statuses.get('default/b'), 'RoutePublished')?.message ?? '', /default\/a/)
  }
})

test('same name in two namespaces gets two routes', () => {
  const res = reconcile([desired(offerYaml('a', 'default', '  path: /services/a')), desired(offerYaml('a', 'team', '  path: /services/team-a'))], observations({ healthy: ['default/a', 'team/a'] }))
  assert.deepEqual(res.routes.map((r) => r.key), ['default/a', 'team/a'])
})

test('reserved path is refused with ReservedPath', () => {
  const res = reconcile([desired(offerYaml('a', 'default', '  path: /api/x'))], observations({ healthy: ['default/a'] }))
  assert.equal(c(res.statuses.get('default/a'), 'RoutePublished')?.reason, 'ReservedPath')
  assert.equal(res.routes.length, 0)
})

test('invalid file and unresolvable offer are reported, the others keep going', () => {
  const broken = desired('apiVersion: vend.dev/v1alpha1\nkind: ServiceOffer\nmetadata: {name: broken}\nspec: {type: http}\n', 1, 'offers/default/broken.yaml')
  const badChain = desired(offerYaml('c').replace('base-sepolia', 'solana'))
  const res = reconcile([broken, badChain, desired(offerYaml('a'))], observations({ healthy: ['default/a'] }))
  const b = res.statuses.get('default/broken')
  assert.equal(c(b, 'Valid')?.status, 'False')
  assert.match(c(b, 'Valid')?.message ?? '', /line \d+: spec/)
  assert.match(c(res.statuses.get('default/c'), 'Valid')?.message ?? '', /unknown chain "solana"/)
  assert.deepEqual(res.routes.map((r) => r.key), ['default/a'])
})

test('draining: served and catalogued until the end, then gone', () => {
  const t0 = Date.parse('2026-11-23T00:00:00Z')
  const d = desired(offerYaml('a', 'default', '  drainAt: "2026-11-23T00:00:00Z"\n  drainGracePeriod: 1h'))
  const during = reconcile([d], observations({ now: t0 + 1000, healthy: ['default/a'] }))
  assert.equal(c(during.statuses.get('default/a'), 'Draining')?.status, 'True')
  assert.equal(during.routes[0]?.draining, true)
  assert.equal(during.catalog[0]?.status.drainEndsAt, '2026-11-23T01:00:00.000Z')
  const after = reconcile([d], observations({ now: t0 + 3_600_000, healthy: ['default/a'] }))
  assert.equal(c(after.statuses.get('default/a'), 'Draining')?.reason, 'Drained')
  assert.equal(after.routes.length, 0)
  assert.equal(after.catalog.length, 0)
})

test('lastTransitionTime only moves when a status flips', () => {
  const d = desired(offerYaml('a'))
  const first = reconcile([d], observations({ now: 1000, healthy: ['default/a'] }))
  const second = reconcile([d], observations({ now: 5000, healthy: ['default/a'], previous: first.statuses }))
  assert.deepEqual(second.statuses.get('default/a'), first.statuses.get('default/a'))
  const third = reconcile([d], observations({ now: 9000, previous: second.statuses, health: new Map([['default/a', { healthy: false, checkedAt: 0, error: 'ECONNREFUSED' }]]) }))
  assert.equal(c(third.statuses.get('default/a'), 'UpstreamHealthy')?.lastTransitionTime, new Date(9000).toISOString())
  assert.equal(c(third.statuses.get('default/a'), 'Valid')?.lastTransitionTime, new Date(1000).toISOString())
})

test('inference offers need ModelReady', () => {
  const inf = `apiVersion: vend.dev/v1alpha1
kind: ServiceOffer
metadata: {name: llm}
spec:
  type: inference
  model: {name: tiny}
  upstream: {url: "http://127.0.0.1:9/"}
  payment: {network: base-sepolia, payTo: "${PAY_TO}", price: {perMTok: "1.25"}}
`
  const waiting = reconcile([desired(inf)], observations({ healthy: ['default/llm'] }))
  assert.equal(c(waiting.statuses.get('default/llm'), 'ModelReady')?.status, 'Unknown')
  assert.equal(waiting.routes[0]?.state, 'unhealthy')
  const ok = reconcile([desired(inf)], observations({ healthy: ['default/llm'], model: new Map([['default/llm', { ready: true, reason: 'Listed', message: 'ok' }]]) }))
  assert.equal(ok.routes[0]?.state, 'serving')
})

test('10,000 offers reconcile in one pass', () => {
  const base = desired(offerYaml('a'))
  const many: DesiredOffer[] = []
  for (let i = 0; i < 10_000; i++) {
    const offer = structuredClone(base.offer!)
    offer.metadata.name = `o${i}`
    many.push({ ...base, key: `default/o${i}`, name: `o${i}`, offer, createdAt: i } as DesiredOffer)
  }
  const res = reconcile(many, observations({ healthy: many.map((m) => m.key) }))
  assert.equal(res.routes.length, 10_000)
  assert.equal(new Set(res.routes.map((r) => r.path)).size, 10_000)
})
