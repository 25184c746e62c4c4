import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther, type LocalAccount } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { openDatabase, type Db } from '../state/db.ts'
import { getMetadataText, getRegistration, X402_METADATA_VALUE } from './erc8004.ts'
import { getIdentity, listIdentities } from './identityStore.ts'
import { registerStack, registrationObservation, type RegisterStackOptions } from './registerStack.ts'
import { chainClients } from './chainClients.ts'
import { startRegistryChain, type RegistryChain } from './testing/registryChain.ts'

let rc: RegistryChain
let dir: string
before(async () => {
  rc = await startRegistryChain('base-sepolia')
  dir = mkdtempSync(join(tmpdir(), 'vend-register-'))
})
after(async () => {
  await rc?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const PUBLIC_URL = 'https://seller.example'
const AGENT_URI = `${PUBLIC_URL}/.well-known/agent-registration.json`

function freshDb(name: string): { db: Db; path: string } {
  const path = join(dir, `${name}.db`)
  return { db: openDatabase(path), path }
}

async function fundedAccount(eth = '1'): Promise<LocalAccount> {
  const account = privateKeyToAccount(generatePrivateKey())
  if (eth !== '0') await rc.setBalance(account.address, parseEther(eth))
  return account
}

function opts(db: Db, account: LocalAccount | undefined, extra: Partial<RegisterStackOptions> = {}): RegisterStackOptions {
  const { publicClient, walletClient } = rc.clients(account)
  return { db, publicUrl: PUBLIC_URL, targets: [{ chain: rc.chain, publicClient, walletClient }], ...extra }
}

const nonce = (a: LocalAccount) => rc.clients().publicClient.getTransactionCount({ address: a.address })

test('registers once: agentId from the event, tokenURI == served URL, x402 metadata set; a second call and a lost record do not mint again', async () => {
  const { db, path } = freshDb('once')
  const account = await fundedAccount()
  const steps: string[] = []
  const [first] = await registerStack(opts(db, account, { onProgress: (_c, e) => steps.push(`${e.action}:${e.step}`) }))
  assert.equal(first!.status, 'registered')
  if (first!.status !== 'registered') return
  assert.ok(steps.includes('register:confirmed') && steps.includes('setMetadata(x402):confirmed'), steps.join(','))
  const { publicClient } = rc.clients()
  const onChain = await getRegistration(publicClient, rc.registry, first!.agentId)
  assert.equal(onChain?.tokenURI, AGENT_URI)
  assert.equal(onChain?.owner, account.address)
  assert.equal(await getMetadataText(publicClient, rc.registry, first!.agentId, 'x402'), X402_METADATA_VALUE)
  const rec = getIdentity(db, 'eip155:84532')
  assert.deepEqual({ ...rec, createdAt: undefined }, {
    chain: 'eip155:84532', agentId: first!.agentId, registry: rc.registry, txHash: first!.txHash, agentUri: AGENT_URI, owner: account.address, createdAt: undefined,
  })

  // down/up: the record survives reopening the db; nothing is sent
  db.close()
  const db2 = openDatabase(path)
  const n = await nonce(account)
  const [again] = await registerStack(opts(db2, account))
  assert.equal(again!.status, 'existing')
  assert.equal(again!.status === 'existing' && again!.agentId, first!.agentId)
  assert.equal(again!.status === 'existing' && again!.metadataChanged, false)
  assert.equal(await nonce(account), n)

  // the record is lost: the Registered log for owner + URI is found instead of minting
  db2.prepare('DELETE FROM agent_identity').run()
  const [recovered] = await registerStack(opts(db2, account))
  assert.equal(recovered!.status, 'recovered')
  assert.equal(recovered!.status === 'recovered' && recovered!.agentId, first!.agentId)
  assert.equal(await nonce(account), n)
  assert.equal(getIdentity(db2, 'eip155:84532')?.agentId, first!.agentId)
  db2.close()
})

test('no public URL or no wallet -> pending AwaitingRegistration with the command that finishes it', async () => {
  const { db } = freshDb('pending')
  const account = await fundedAccount()
  const [noUrl] = await registerStack(opts(db, account, { publicUrl: undefined }))
  assert.equal(noUrl!.status, 'pending')
  assert.equal(noUrl!.status === 'pending' && noUrl!.reason, 'AwaitingRegistration')
  assert.equal(noUrl!.status === 'pending' && noUrl!.command, 'vend stack up --public-url https://<your-host> && vend sell register --chain base-sepolia')
  const [noWallet] = await registerStack(opts(db, undefined))
  assert.equal(noWallet!.status === 'pending' && noWallet!.command, 'vend wallet create && vend sell register --chain base-sepolia')
  assert.equal(await nonce(account), 0)
  assert.deepEqual(listIdentities(db), [])
  db.close()
})

test('an unfunded wallet is pending (names the wallet); once funded the same call registers', async () => {
  const { db } = freshDb('unfunded')
  const account = await fundedAccount('0')
  const [pending] = await registerStack(opts(db, account))
  assert.equal(pending!.status, 'pending')
  if (pending!.status !== 'pending') return
  assert.match(pending!.message, new RegExp(`${account.address} has 0 ETH on base-sepolia; registering needs about 0\\.\\d+ ETH`))
  assert.equal(pending!.command, 'vend sell register --chain base-sepolia')
  const obs = await registrationObservation({ publicClient: rc.clients().publicClient, chain: rc.chain, record: getIdentity(db, 'eip155:84532'), publicUrl: PUBLIC_URL, pending: pending! })
  assert.equal(obs.pendingReason, 'AwaitingRegistration')
  assert.match(obs.pendingMessage ?? '', /vend sell register --chain base-sepolia/)
  assert.equal(obs.agentId, undefined)

  await rc.setBalance(account.address, parseEther('1'))
  const [done] = await registerStack(opts(db, account))
  assert.equal(done!.status, 'registered')
  db.close()
})

test('Registered comes from the chain: the agent exists and its URI matches; a new public URL updates the URI without a new mint', async () => {
  const { db } = freshDb('observe')
  const account = await fundedAccount()
  const [reg] = await registerStack(opts(db, account))
  assert.equal(reg!.status, 'registered')
  if (reg!.status !== 'registered') return
  const { publicClient } = rc.clients()
  const observe = (publicUrl: string) => registrationObservation({ publicClient, chain: rc.chain, record: getIdentity(db, 'eip155:84532'), publicUrl })
  assert.deepEqual(await observe(PUBLIC_URL), { agentId: reg!.agentId.toString(), uriMatches: true, txHash: reg!.txHash })

  const moved = await observe('https://new.example')
  assert.equal(moved.uriMatches, false)
  assert.equal(moved.pendingReason, 'URIMismatch')

  const [updated] = await registerStack(opts(db, account, { publicUrl: 'https://new.example' }))
  assert.equal(updated!.status === 'existing' && updated!.uriUpdated, true)
  assert.equal(updated!.status === 'existing' && updated!.agentId, reg!.agentId)
  assert.equal((await observe('https://new.example')).uriMatches, true)
  assert.equal(getIdentity(db, 'eip155:84532')?.agentUri, 'https://new.example/.well-known/agent-registration.json')

  // a record the chain does not have (another registry, e.g. a reset dev chain) is not Registered
  const ghost = await registrationObservation({ publicClient, chain: rc.chain, record: { ...getIdentity(db, 'eip155:84532')!, agentId: 10_000n }, publicUrl: PUBLIC_URL })
  assert.equal(ghost.agentId, undefined)
  assert.equal(ghost.pendingReason, 'AwaitingRegistration')
  db.close()
})

test('--agent-wallet with its key: setAgentWallet makes getAgentWallet(agentId) == payTo', async () => {
  const { db } = freshDb('agentwallet')
  const account = await fundedAccount()
  const payTo = privateKeyToAccount(generatePrivateKey())
  const [res] = await registerStack(opts(db, account, { agentWallet: payTo.address, agentWalletAccount: payTo }))
  assert.equal(res!.status, 'registered')
  if (res!.status !== 'registered') return
  assert.equal(res!.agentWalletResult?.status, 'set')
  assert.equal((await getRegistration(rc.clients().publicClient, rc.registry, res!.agentId))?.agentWallet, payTo.address)
  db.close()
})

test('the CLI and the daemon registering at the same moment (two db handles on one file) mint one agent', async () => {
  const { db, path } = freshDb('race')
  const other = openDatabase(path)
  const account = await fundedAccount()
  const results = await Promise.all([registerStack(opts(db, account)), registerStack(opts(other, account))])
  const statuses = results.map(([r]) => r!.status).sort()
  assert.deepEqual(statuses, ['existing', 'registered'])
  assert.equal(listIdentities(db).length, 1)
  assert.equal(await nonce(account), 2, 'one register + one metadata transaction')
  other.close()
  db.close()
})

test('an unreachable RPC endpoint is one clear error naming the chain and where to change the endpoint', async () => {
  const { db } = freshDb('rpcdown')
  const account = await fundedAccount()
  const down = chainClients(rc.chain, 'http://127.0.0.1:1', account)
  await assert.rejects(
    registerStack({ db, publicUrl: PUBLIC_URL, targets: [{ chain: rc.chain, publicClient: down.publicClient, walletClient: down.walletClient }] }),
    (err: Error & { hint?: string }) => {
      assert.equal(err.name, 'BaseError')
      assert.match(err.message, /^The base-sepolia RPC endpoint failed: HTTP request failed/)
      assert.match(err.hint ?? '', /VEND_RPC_URL_BASE_SEPOLIA/)
      return true
    },
  )
  db.close()
})
