import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { resolveOffer } from '../offer/resolveOffer.ts'
import { ServiceOffer, type ServiceOfferInput } from '../offer/schema.ts'
import { reconcile } from '../reconciler/reconcile.ts'
import type { DesiredOffer } from '../reconciler/types.ts'
import { openDatabase } from '../state/db.ts'
import { getRegistration } from './erc8004.ts'
import { listIdentities } from './identityStore.ts'
import { createStackIdentity } from './stackIdentity.ts'
import { startRegistryChain, type RegistryChain } from './testing/registryChain.ts'

let rc: RegistryChain
let dir: string
before(async () => {
  rc = await startRegistryChain('base-sepolia')
  dir = mkdtempSync(join(tmpdir(), 'vend-stack-identity-'))
})
after(async () => {
  await rc?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

function offer(name: string, network: string, registration: ServiceOfferInput['spec']['registration'] = { enabled: true }): ServiceOffer {
  return ServiceOffer.parse({
    apiVersion: 'vend.dev/v1alpha1', kind: 'ServiceOffer', metadata: { name },
    spec: { type: 'http', upstream: { url: 'http://127.0.0.1:9000' }, payment: { network, payTo: PAY_TO, price: { perRequest: '0.001' } }, registration },
  })
}

function pass(offers: ServiceOffer[], registration: ReturnType<ReturnType<typeof createStackIdentity>['observations']>) {
  const desired: DesiredOffer[] = offers.map((o, i) => ({
    key: `default/${o.metadata.name}`, namespace: 'default', name: o.metadata.name, file: `offers/default/${o.metadata.name}.yaml`, createdAt: i, generation: 'g', offer: o,
  }))
  return reconcile(desired, {
    now: Date.now(),
    health: new Map(desired.map((d) => [d.key, { healthy: true, checkedAt: 0, status: 200 }])),
    model: new Map(),
    facilitatorFor: () => ({ configured: true, supportsNetwork: true }),
    registration,
    previous: new Map(),
  })
}

test('registers once per chain even when refreshes race; Registered=True comes from the chain; the file lists the agent', async () => {
  const db = openDatabase(join(dir, 'a.db'))
  const account = privateKeyToAccount(generatePrivateKey())
  await rc.setBalance(account.address, parseEther('1'))
  let changes = 0
  const identity = createStackIdentity({
    db, publicUrl: () => 'https://seller.example', account: () => account,
    rpcUrl: (chain) => (chain.chainId === 84532 ? rc.rpcUrl : undefined), onChange: () => { changes++ },
  })
  const offers = [offer('alpha', 'base-sepolia', { enabled: true, name: 'Alpha Agent' }), offer('beta', 'base-sepolia'), offer('quiet', 'base-sepolia', { enabled: false }), offer('mainnet', 'base')]
  identity.setOffers(offers.map(resolveOffer))
  await Promise.all([identity.refresh(), identity.refresh()])

  const ids = listIdentities(db)
  assert.equal(ids.length, 1, 'one agent for base-sepolia')
  assert.equal(await rc.clients().publicClient.getTransactionCount({ address: account.address }), 2, 'register + x402 metadata, nothing more')
  const agentId = ids[0]!.agentId.toString()
  const obs = identity.observations()
  assert.equal(obs.get('default/alpha')?.agentId, agentId)
  assert.equal(obs.get('default/alpha')?.uriMatches, true)
  assert.equal(obs.get('default/beta')?.agentId, agentId)
  assert.equal(obs.has('default/quiet'), false)
  assert.match(obs.get('default/mainnet')?.pendingMessage ?? '', /VEND_RPC_URL_BASE/)
  assert.ok(changes >= 1)

  const result = pass(offers, obs)
  const registered = (key: string) => result.statuses.get(key)!.conditions.find((c) => c.type === 'Registered')!
  assert.equal(registered('default/alpha').status, 'True')
  assert.equal(result.statuses.get('default/alpha')!.agentId, agentId)
  assert.equal(registered('default/mainnet').status, 'False')
  assert.equal(result.catalog.find((e) => e.key === 'default/mainnet')?.registrationPending, true)

  const file = identity.registrationFile(result.catalog, 'https://seller.example')
  assert.equal(file.name, 'Alpha Agent')
  assert.deepEqual(file.registrations, [{ agentId: Number(agentId), agentRegistry: `eip155:84532:${rc.registry}` }])
  assert.deepEqual(file.services.map((s) => s.name === 'web' && s.endpoint), [
    'https://seller.example/services/alpha', 'https://seller.example/services/beta', 'https://seller.example/services/mainnet',
  ])
  identity.close()
  db.close()
})

test('an unfunded wallet: Registered=False AwaitingRegistration with the finishing command; once funded it registers by itself', async () => {
  const db = openDatabase(join(dir, 'b.db'))
  const account = privateKeyToAccount(generatePrivateKey())
  let changed: () => void = () => {}
  const identity = createStackIdentity({
    db, publicUrl: () => 'https://seller.example', account: () => account, rpcUrl: () => rc.rpcUrl, retryMs: 100, onChange: () => changed(),
  })
  const offers = [offer('gamma', 'base-sepolia')]
  identity.setOffers(offers.map(resolveOffer))
  await identity.refresh()
  const before = pass(offers, identity.observations()).statuses.get('default/gamma')!.conditions.find((c) => c.type === 'Registered')!
  assert.equal(before.status, 'False')
  assert.equal(before.reason, 'AwaitingRegistration')
  assert.match(before.message, /vend sell register --chain base-sepolia/)

  const registered = new Promise<void>((resolve) => { changed = () => { if (identity.observations().get('default/gamma')?.agentId) resolve() } })
  await rc.setBalance(account.address, parseEther('1'))
  await registered // the retry timer registers without anyone calling refresh()
  const status = pass(offers, identity.observations()).statuses.get('default/gamma')!
  assert.equal(status.conditions.find((c) => c.type === 'Registered')!.status, 'True')
  const onChain = await getRegistration(rc.clients().publicClient, rc.registry, BigInt(status.agentId!))
  assert.equal(onChain?.tokenURI, 'https://seller.example/.well-known/agent-registration.json')
  identity.close()
  db.close()
})
