import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { chainClients } from './chainClients.ts'
import {
  findRegistration, getMetadataText, getRegistration, registerAgent, setAgentWallet, setX402Metadata, X402_METADATA_VALUE, type ProgressEvent,
} from './erc8004.ts'
import { DEV_KEYS, startRegistryChain, type RegistryChain } from './testing/registryChain.ts'

let rc: RegistryChain
before(async () => { rc = await startRegistryChain('base-sepolia') })
after(async () => { await rc?.stop() })

const owner = privateKeyToAccount(DEV_KEYS[0])
const payTo = privateKeyToAccount(DEV_KEYS[1])
const URL_A = 'https://seller.example/.well-known/agent-registration.json'

test('register: agentId from the Registered event, tokenURI == agentURI, progress reported through the receipt', async () => {
  const { publicClient, walletClient } = rc.clients(owner)
  const events: ProgressEvent[] = []
  const first = await registerAgent({ publicClient, walletClient: walletClient!, registry: rc.registry, agentURI: URL_A, onProgress: (e) => events.push(e) })
  assert.deepEqual(events.map((e) => e.step), ['submitting', 'submitted', 'confirmed'])
  assert.equal(events[1]!.step === 'submitted' && events[1]!.txHash, first.txHash)
  const second = await registerAgent({ publicClient, walletClient: walletClient!, registry: rc.registry, agentURI: 'https://other.example/a.json' })
  assert.equal(second.agentId, first.agentId + 1n)
  const reg = await getRegistration(publicClient, rc.registry, first.agentId)
  assert.deepEqual(reg, { agentId: first.agentId, owner: owner.address, tokenURI: URL_A, agentWallet: owner.address })
  assert.equal(await getRegistration(publicClient, rc.registry, 999n), undefined)
  // the Registered logs find it again by owner + URI
  assert.deepEqual(await findRegistration({ publicClient, registry: rc.registry, owner: owner.address, agentURI: URL_A }), { agentId: first.agentId, txHash: first.txHash })
  assert.equal(await findRegistration({ publicClient, registry: rc.registry, owner: payTo.address, agentURI: URL_A }), undefined)
})

test('x402 metadata is read before write: the second call sends no transaction', async () => {
  const { publicClient, walletClient } = rc.clients(owner)
  const { agentId } = await registerAgent({ publicClient, walletClient: walletClient!, registry: rc.registry, agentURI: URL_A })
  const first = await setX402Metadata({ publicClient, walletClient: walletClient!, registry: rc.registry, agentId })
  assert.equal(first.changed, true)
  assert.equal(await getMetadataText(publicClient, rc.registry, agentId, 'x402'), X402_METADATA_VALUE)
  const nonce = await publicClient.getTransactionCount({ address: owner.address })
  const events: ProgressEvent[] = []
  const second = await setX402Metadata({ publicClient, walletClient: walletClient!, registry: rc.registry, agentId, onProgress: (e) => events.push(e) })
  assert.deepEqual(second, { changed: false })
  assert.equal(await publicClient.getTransactionCount({ address: owner.address }), nonce)
  assert.deepEqual(events.map((e) => e.step), ['skipped'])
})

test('setAgentWallet with the new wallet\'s key: getAgentWallet == payTo; again -> unchanged', async () => {
  const { publicClient, walletClient } = rc.clients(owner)
  const { agentId } = await registerAgent({ publicClient, walletClient: walletClient!, registry: rc.registry, agentURI: URL_A })
  const res = await setAgentWallet({ publicClient, walletClient: walletClient!, registry: rc.registry, agentId, newWallet: payTo.address, newWalletAccount: payTo })
  assert.equal(res.status, 'set')
  assert.equal((await getRegistration(publicClient, rc.registry, agentId))!.agentWallet, payTo.address)
  assert.deepEqual(await setAgentWallet({ publicClient, walletClient: walletClient!, registry: rc.registry, agentId, newWallet: payTo.address }), { status: 'unchanged' })
})

test('setAgentWallet without the key returns the exact EIP-712 data; signing it elsewhere and passing the signature binds the wallet', async () => {
  const { publicClient, walletClient } = rc.clients(owner)
  const { agentId } = await registerAgent({ publicClient, walletClient: walletClient!, registry: rc.registry, agentURI: URL_A })
  const res = await setAgentWallet({ publicClient, walletClient: walletClient!, registry: rc.registry, agentId, newWallet: payTo.address })
  assert.equal(res.status, 'signature-needed')
  if (res.status !== 'signature-needed') return
  const { typedData } = res
  assert.deepEqual(typedData.domain, { name: 'ERC8004IdentityRegistry', version: '1', chainId: 84532, verifyingContract: rc.registry })
  const now = (await publicClient.getBlock()).timestamp
  assert.ok(typedData.message.deadline > now && typedData.message.deadline <= now + 300n, 'deadline within the registry\'s 5 minutes')
  assert.equal(typedData.message.owner, owner.address)
  assert.equal((await getRegistration(publicClient, rc.registry, agentId))!.agentWallet, owner.address)
  const signature = await payTo.signTypedData(typedData)
  const set = await setAgentWallet({ publicClient, walletClient: walletClient!, registry: rc.registry, agentId, newWallet: payTo.address, signature, deadline: typedData.message.deadline })
  assert.equal(set.status, 'set')
  assert.equal((await getRegistration(publicClient, rc.registry, agentId))!.agentWallet, payTo.address)
})

test('a signature from another key is refused by the registry with a hint', async () => {
  const { publicClient, walletClient } = rc.clients(owner)
  const { agentId } = await registerAgent({ publicClient, walletClient: walletClient!, registry: rc.registry, agentURI: URL_A })
  const res = await setAgentWallet({ publicClient, walletClient: walletClient!, registry: rc.registry, agentId, newWallet: payTo.address })
  assert.equal(res.status, 'signature-needed')
  if (res.status !== 'signature-needed') return
  const wrong = await owner.signTypedData(res.typedData)
  await assert.rejects(
    setAgentWallet({ publicClient, walletClient: walletClient!, registry: rc.registry, agentId, newWallet: payTo.address, signature: wrong, deadline: res.typedData.message.deadline }),
    (err: Error & { hint?: string }) => { assert.match(err.message, /invalid wallet sig/); assert.match(err.hint ?? '', /--agent-wallet/); return true },
  )
})

/** A JSON-RPC proxy in front of anvil that refuses eth_getLogs over more than `maxRange` blocks, like public endpoints do. */
async function rangeLimitedRpc(target: string, maxRange: bigint) {
  const seen: string[] = []
  const server = createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const msg = JSON.parse(body) as { id: number; method: string; params: { fromBlock?: string; toBlock?: string }[] }
    seen.push(msg.method)
    if (msg.method === 'eth_getLogs') {
      const { fromBlock = '0x0', toBlock = 'latest' } = msg.params[0] ?? {}
      if (toBlock === 'latest' || BigInt(toBlock) - BigInt(fromBlock) + 1n > maxRange) {
        res.setHeader('content-type', 'application/json')
        return res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32005, message: `query exceeds max block range ${maxRange}` } }))
      }
    }
    const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    res.setHeader('content-type', 'application/json')
    res.end(await upstream.text())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((r) => server.close(() => r())) }
}

test('findRegistration through an RPC that caps log ranges: scans back in windows; an owner with no agent needs no log search', async (t) => {
  const proxy = await rangeLimitedRpc(rc.rpcUrl, 8n)
  t.after(() => proxy.close())
  const fresh = privateKeyToAccount(generatePrivateKey())
  await rc.setBalance(fresh.address, parseEther('1'))
  const viaProxy = chainClients(rc.chain, proxy.url, undefined, { pollingIntervalMs: 50 }).publicClient

  assert.equal(await findRegistration({ publicClient: viaProxy, registry: rc.registry, owner: fresh.address, agentURI: URL_A, logWindow: 8n }), undefined)
  assert.equal(proxy.seen.filter((m) => m === 'eth_getLogs').length, 0, 'balance 0: no log search')

  const { publicClient, walletClient } = rc.clients(fresh)
  const reg = await registerAgent({ publicClient, walletClient: walletClient!, registry: rc.registry, agentURI: URL_A })
  await rc.mine(40)
  assert.deepEqual(await findRegistration({ publicClient: viaProxy, registry: rc.registry, owner: fresh.address, agentURI: URL_A, logWindow: 8n }), { agentId: reg.agentId, txHash: reg.txHash })
  assert.ok(proxy.seen.filter((m) => m === 'eth_getLogs').length > 2, 'searched in windows')
  await assert.rejects(
    findRegistration({ publicClient: viaProxy, registry: rc.registry, owner: fresh.address, agentURI: URL_A, logWindow: 8n, maxWindows: 2 }),
    /already holds an agent/,
  )
})
