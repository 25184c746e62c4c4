import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { privateKeyToAccount } from 'viem/accounts'
import { getRegistration } from '../../identity/erc8004.ts'
import { getProfile, listIdentities } from '../../identity/identityStore.ts'
import { DEV_KEYS, startRegistryChain, type RegistryChain } from '../../identity/testing/registryChain.ts'
import { importWallet } from '../../identity/wallet.ts'
import { openDatabase } from '../../state/db.ts'
import { homePaths } from '../../state/home.ts'
import { writeOffer } from '../../state/offerStore.ts'
import { StackConfig, writeStackConfig } from '../../state/stackConfig.ts'
import type { CliContext } from '../context.ts'
import { register } from './register.ts'

let rc: RegistryChain
before(async () => { rc = await startRegistryChain('base-sepolia') })
after(async () => { await rc?.stop() })

const payTo = privateKeyToAccount(DEV_KEYS[1])

function setup(t: { after: (fn: () => void) => void }, publicUrl: string | undefined = 'https://seller.example') {
  const home = mkdtempSync(join(tmpdir(), 'vend-register-cli-'))
  t.after(() => rmSync(home, { recursive: true, force: true }))
  const paths = homePaths(home)
  writeStackConfig(paths, StackConfig.parse(publicUrl ? { publicUrl } : {}))
  const out: string[] = []
  const err: string[] = []
  const ctx: CliContext = {
    env: { VEND_WALLET_PASSWORD: 'pw' }, paths: () => paths, canPrompt: () => false,
    io: { out: (s) => out.push(s), err: (s) => err.push(s), stdoutIsTTY: false, stdinIsTTY: false, confirm: async () => false },
  }
  const run = async (...args: string[]) => {
    const program = new Command('vend').exitOverride()
    register(program, ctx)
    out.length = 0
    err.length = 0
    try {
      await program.parseAsync(args, { from: 'user' })
      return { out: out.join('\n'), err: err.join('\n'), error: undefined as Error | undefined }
    } catch (error) {
      return { out: out.join('\n'), err: err.join('\n'), error: error as Error }
    }
  }
  return { paths, run }
}

test('sell register without a wallet: pending, and the error says the command that finishes it', async (t) => {
  const { run } = setup(t)
  const r = await run('sell', 'register', '--chain', 'base-sepolia', '--rpc-url', rc.rpcUrl)
  assert.match(r.error?.message ?? '', /no wallet/)
  assert.match(r.error?.message ?? '', /vend wallet create && vend sell register --chain base-sepolia/)
})

test('sell register: registers once with visible progress, records the agent and the --name; a second run mints nothing', async (t) => {
  const { paths, run } = setup(t)
  const owner = privateKeyToAccount(DEV_KEYS[0])
  await importWallet(paths, DEV_KEYS[0], 'pw', { scryptN: 1024 })
  writeOffer(paths, {
    apiVersion: 'vend.dev/v1alpha1', kind: 'ServiceOffer', metadata: { name: 'weather' },
    spec: { type: 'http', upstream: { url: 'http://127.0.0.1:9000' }, payment: { network: 'base-sepolia', payTo: payTo.address, price: { perRequest: '0.001' } } },
  })
  // no --chain: the offers' chain
  const first = await run('sell', 'register', '--rpc-url', rc.rpcUrl, '--name', 'Acme Weather')
  assert.equal(first.error, undefined, first.error?.message)
  assert.match(first.err, /base-sepolia: register sent \(0x[0-9a-f]{64}\), waiting for the receipt/)
  assert.match(first.err, /register confirmed in block \d+/)
  assert.match(first.err, /Note: the stack wallet .* owns the agent .* payments go to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8/)
  assert.match(first.out, /base-sepolia: agent \d+ registered/)
  const db = openDatabase(paths.db)
  const [identity] = listIdentities(db)
  assert.equal(identity?.agentUri, 'https://seller.example/.well-known/agent-registration.json')
  assert.equal(getProfile(db).name, 'Acme Weather')
  db.close()
  const onChain = await getRegistration(rc.clients().publicClient, rc.registry, identity!.agentId)
  assert.equal(onChain?.tokenURI, identity!.agentUri)
  assert.equal(onChain?.owner, owner.address)

  const nonce = await rc.clients().publicClient.getTransactionCount({ address: owner.address })
  const again = await run('sell', 'register', '--chain', 'base-sepolia', '--rpc-url', rc.rpcUrl, '--json')
  assert.equal(again.error, undefined)
  const [res] = JSON.parse(again.out)
  assert.equal(res.status, 'existing')
  assert.equal(res.agentId, identity!.agentId.toString())
  assert.equal(await rc.clients().publicClient.getTransactionCount({ address: owner.address }), nonce)
})

test('sell register --agent-wallet without its key prints what to sign; the signature then binds payTo as the agent wallet', async (t) => {
  const { paths, run } = setup(t)
  const owner = privateKeyToAccount(DEV_KEYS[2])
  await importWallet(paths, DEV_KEYS[2], 'pw', { scryptN: 1024 })
  const ask = await run('sell', 'register', '--chain', 'base-sepolia', '--rpc-url', rc.rpcUrl, '--agent-wallet', payTo.address, '--json')
  assert.equal(ask.error, undefined, ask.error?.message)
  const [res] = JSON.parse(ask.out)
  assert.equal(res.agentWallet.status, 'signature-needed')
  const td = res.agentWallet.typedData
  assert.deepEqual(td.domain, { name: 'ERC8004IdentityRegistry', version: '1', chainId: 84532, verifyingContract: rc.registry })
  assert.equal(td.message.owner, owner.address)
  assert.ok(!ask.out.includes(DEV_KEYS[2].slice(2)), 'no key material in --json')

  const message = { agentId: BigInt(td.message.agentId), newWallet: td.message.newWallet, owner: td.message.owner, deadline: BigInt(td.message.deadline) }
  const signature = await payTo.signTypedData({ domain: td.domain, types: td.types, primaryType: 'AgentWalletSet', message })
  const done = await run('sell', 'register', '--chain', 'base-sepolia', '--rpc-url', rc.rpcUrl, '--agent-wallet', payTo.address,
    '--agent-wallet-signature', signature, '--agent-wallet-deadline', td.message.deadline)
  assert.equal(done.error, undefined, done.error?.message)
  assert.match(done.out, /agent wallet set/)
  assert.equal((await getRegistration(rc.clients().publicClient, rc.registry, BigInt(res.agentId)))?.agentWallet, payTo.address)
})
