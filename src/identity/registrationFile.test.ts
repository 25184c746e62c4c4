import { test } from 'node:test'
import assert from 'node:assert/strict'
import { resolveOffer } from '../offer/resolveOffer.ts'
import { ServiceOffer, type ServiceOfferInput } from '../offer/schema.ts'
import type { CatalogEntry } from '../reconciler/types.ts'
import { buildRegistrationFile, ownerRegistration, REGISTRATION_TYPE } from './registrationFile.ts'

const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const REGISTRY = '0x8004A818BFB912233c491871b3d84c89A494BD9e'

function offer(name: string, spec: Partial<ServiceOfferInput['spec']>): ServiceOffer {
  return ServiceOffer.parse({
    apiVersion: 'vend.dev/v1alpha1', kind: 'ServiceOffer', metadata: { name },
    spec: { type: 'http', upstream: { url: 'http://127.0.0.1:9000' }, payment: { network: 'base-sepolia', payTo: PAY_TO, price: { perRequest: '0.001' } }, ...spec },
  })
}

function entry(o: ServiceOffer): CatalogEntry {
  const resolved = resolveOffer(o)
  return {
    key: resolved.key, resolved, registrationPending: false,
    status: { key: resolved.key, namespace: 'default', name: o.metadata.name, file: '', generation: 'g', type: o.spec.type, conditions: [], ready: true, operationallyReady: true, path: resolved.path, drainEndsAt: undefined },
  }
}

const identities = [{ chain: 'eip155:84532', agentId: 7n, registry: REGISTRY as `0x${string}` }]

// Deliberately odd operator text: whitespace, markdown, unicode and trailing spaces must survive as written.
const OPERATOR = {
  enabled: true,
  name: '  Wëather Oracle ',
  description: 'Forecasts **per city**.\nPrices in USDC. ',
  image: 'https://cdn.example/logo.png?v=2',
  skills: ['natural_language_processing/summarization', 'Data  Analysis'],
  domains: ['weather/forecasting'],
}

test('http offer: every field of the registration file, operator fields verbatim', () => {
  const weather = offer('weather', { registration: OPERATOR })
  const file = buildRegistrationFile({ catalog: [entry(weather)], baseUrl: 'https://seller.example/', identities })
  assert.deepEqual(file, {
    type: REGISTRATION_TYPE,
    name: OPERATOR.name,
    description: OPERATOR.description,
    image: OPERATOR.image,
    services: [
      { name: 'web', endpoint: 'https://seller.example/services/weather' },
      { name: 'OASF', version: '0.8', skills: OPERATOR.skills, domains: OPERATOR.domains },
    ],
    x402Support: true,
    active: true,
    registrations: [{ agentId: 7, agentRegistry: `eip155:84532:${REGISTRY}` }],
    supportedTrust: ['reputation'],
  })
  assert.equal(file.type, 'https://eips.ethereum.org/EIPS/eip-8004#registration-v1')
})

test('inference offer: the same operator fields survive verbatim; default description is "<model> inference via x402"', () => {
  const spec = { type: 'inference' as const, model: { name: 'qwen3:0.6b' }, upstream: { url: 'http://127.0.0.1:11434' }, payment: { network: 'base-sepolia', payTo: PAY_TO, price: { perMTok: '1.5' } } }
  const withOperator = buildRegistrationFile({ catalog: [entry(offer('qwen', { ...spec, registration: OPERATOR }))], baseUrl: 'https://seller.example', identities })
  assert.equal(withOperator.name, OPERATOR.name)
  assert.equal(withOperator.description, OPERATOR.description)
  assert.equal(withOperator.image, OPERATOR.image)
  assert.deepEqual(withOperator.services[1], { name: 'OASF', version: '0.8', skills: OPERATOR.skills, domains: OPERATOR.domains })

  const plain = buildRegistrationFile({ catalog: [entry(offer('qwen', spec))], baseUrl: 'https://seller.example', identities })
  assert.equal(plain.name, 'qwen')
  assert.equal(plain.description, 'qwen3:0.6b inference via x402')
  assert.equal('image' in plain, false)
  assert.deepEqual(plain.services, [{ name: 'web', endpoint: 'https://seller.example/services/qwen' }], 'no OASF entry without skills or domains')
})

test('several offers: one web service each, skills/domains merged without duplicates; the owner (first) names the agent; --no-register offers are left out', () => {
  const a = offer('alpha', { registration: { enabled: true, name: 'Alpha Agent', skills: ['s1', 's2'] } })
  const b = offer('beta', { path: '/b', registration: { enabled: true, skills: ['s2', 's3'], domains: ['d1'] } })
  const hidden = offer('hidden', { registration: { enabled: false } })
  const file = buildRegistrationFile({ catalog: [entry(a), entry(b), entry(hidden)], baseUrl: 'http://127.0.0.1:8402', identities: [] })
  assert.equal(file.name, 'Alpha Agent')
  assert.deepEqual(file.services, [
    { name: 'web', endpoint: 'http://127.0.0.1:8402/services/alpha' },
    { name: 'web', endpoint: 'http://127.0.0.1:8402/b' },
    { name: 'OASF', version: '0.8', skills: ['s1', 's2', 's3'], domains: ['d1'] },
  ])
  assert.deepEqual(file.registrations, [])
})

test('the stack profile from `vend sell register --name/--description/--image` wins over the offer', () => {
  const file = buildRegistrationFile({
    catalog: [entry(offer('weather', { registration: OPERATOR }))], baseUrl: 'https://seller.example', identities,
    profile: { name: 'Stack Name', description: 'Stack description', image: 'https://x.example/i.png' },
  })
  assert.deepEqual([file.name, file.description, file.image], ['Stack Name', 'Stack description', 'https://x.example/i.png'])
})

test('no published offers: active false, services empty, registrations kept; the owner offer still names the agent', () => {
  const weather = offer('weather', { registration: OPERATOR })
  const file = buildRegistrationFile({
    catalog: [], baseUrl: 'https://seller.example', owner: ownerRegistration(weather),
    identities: [...identities, { chain: 'eip155:8453', agentId: 3n, registry: '0x8004A169FB4a3325136EB29fA0ceB6D2e539a432' }],
  })
  assert.equal(file.active, false)
  assert.deepEqual(file.services, [])
  assert.deepEqual(file.registrations, [
    { agentId: 3, agentRegistry: 'eip155:8453:0x8004A169FB4a3325136EB29fA0ceB6D2e539a432' },
    { agentId: 7, agentRegistry: `eip155:84532:${REGISTRY}` },
  ])
  assert.equal(file.name, OPERATOR.name)
  assert.equal(file.x402Support, true)
})

test('the oldest published offer names the agent, whatever the names sort as', () => {
  const older = { ...entry(offer('zeta', { registration: { ...OPERATOR, name: 'First Seller' } })), createdAt: 1 }
  const newer = { ...entry(offer('alpha', { registration: { ...OPERATOR, name: 'Came Later' } })), createdAt: 2 }
  for (const catalog of [[older, newer], [newer, older]]) {
    assert.equal(buildRegistrationFile({ catalog, baseUrl: 'https://seller.example', identities }).name, 'First Seller')
  }
})
