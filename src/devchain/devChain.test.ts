import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x402Client } from '@x402/core/client'
import { x402Facilitator } from '@x402/core/facilitator'
import type { PaymentRequirements } from '@x402/core/types'
import { toClientEvmSigner, toFacilitatorEvmSigner } from '@x402/evm'
import { ExactEvmScheme as ClientExact } from '@x402/evm/exact/client'
import { ExactEvmScheme as FacilitatorExact } from '@x402/evm/exact/facilitator'
import { parseEventLogs, publicActions, type Address } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { BaseError } from '../errors/base.ts'
import { DEV_USDC_ADDRESS } from '../offer/networks.ts'
import { homePaths, type HomePaths } from '../state/home.ts'
import { chainIdAt, isAlive } from './anvil.ts'
import { BUYER_START_USDC, chainClients, identityRegistryAbi, usdcAbi } from './contracts.ts'
import { ensureDevChain, readDevChain, stopDevChain, usdcBalance, type DevChainInfo } from './devChain.ts'
import { readRecord, stateFile } from './record.ts'

const PAY_TO: Address = '0x90F79bf6EB2c4f870365E785982E1f101E93b906' // anvil account #3

function tempHome(t: { after: (fn: () => Promise<void> | void) => void }): HomePaths {
  const dir = mkdtempSync(join(tmpdir(), 'vend-devchain-'))
  const paths = homePaths(dir)
  t.after(async () => {
    await stopDevChain(paths).catch(() => {})
    const pid = readRecord(paths)?.pid
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  return paths
}

/** The buyer signs an EIP-3009 authorisation with the official client; the official facilitator verifies and settles it. */
async function pay(info: DevChainInfo, amount: bigint, client: x402Client) {
  const c = chainClients(info.rpcUrl, info.chainId)
  const req: PaymentRequirements = {
    scheme: 'exact', network: info.caip2, asset: info.usdc.address, amount: String(amount), payTo: PAY_TO,
    maxTimeoutSeconds: 120, extra: { name: info.usdc.name, version: info.usdc.version },
  }
  const payload = await client.createPaymentPayload({
    x402Version: 2, resource: { url: 'http://127.0.0.1/paid', description: 'test', mimeType: 'application/json' }, accepts: [req],
  })
  const settlerWallet = c.wallet(info.settler.privateKey).extend(publicActions)
  const facilitator = new x402Facilitator().register(info.caip2, new FacilitatorExact(toFacilitatorEvmSigner(
    // viem's verifyTypedData is wider than the signer type spells it
    { ...settlerWallet, address: info.settler.address } as unknown as Parameters<typeof toFacilitatorEvmSigner>[0])))
  const verified = await facilitator.verify(payload, req)
  assert.equal(verified.isValid, true, JSON.stringify(verified))
  const settled = await facilitator.settle(payload, req)
  assert.equal(settled.success, true, JSON.stringify(settled))
  return { replay: () => facilitator.verify(payload, req) }
}

function buyerClient(info: DevChainInfo): x402Client {
  const c = chainClients(info.rpcUrl, info.chainId)
  return new x402Client().register('eip155:*', new ClientExact(toClientEvmSigner(privateKeyToAccount(info.buyer.privateKey), c.pub)))
}

test('local dev chain: USDC at the fixed address, x402 payment settles, state survives stop/start without a redeploy; another home can join it', async (t) => {
  const paths = tempHome(t)
  const info = await ensureDevChain(paths)
  assert.equal(info.chainId, 31337)
  assert.equal(info.network, 'local')
  assert.equal(info.usdc.address, DEV_USDC_ADDRESS)
  const c = chainClients(info.rpcUrl, info.chainId)
  const read = (functionName: 'name' | 'version' | 'decimals') => c.pub.readContract({ address: DEV_USDC_ADDRESS, abi: usdcAbi, functionName })
  assert.deepEqual([await read('name'), await read('version'), await read('decimals')], ['USDC', '2', 6])
  assert.equal(await usdcBalance(info, info.buyer.address), BUYER_START_USDC)
  assert.ok(await c.pub.getBalance({ address: info.settler.address }) > 0n)
  assert.deepEqual(readDevChain(paths), info)

  // a local token is not an x402 default asset: the buyer allow-lists it
  const client = buyerClient(info).setSpendControls({ allowedAssets: [{ network: info.caip2, asset: info.usdc.address }] })
  const { replay } = await pay(info, 12_345n, client)
  // Multicall3 at its canonical address lets the facilitator name the reason instead of "simulation failed"
  assert.equal((await replay()).invalidReason, 'invalid_exact_evm_nonce_already_used')
  const buyerAfter = await usdcBalance(info, info.buyer.address)
  assert.equal(buyerAfter, BUYER_START_USDC - 12_345n)
  assert.equal(await usdcBalance(info, PAY_TO), 12_345n)

  const other = homePaths(mkdtempSync(join(tmpdir(), 'vend-devchain-join-')))
  t.after(() => rmSync(other.root, { recursive: true, force: true }))
  assert.deepEqual(await ensureDevChain(other, { join: info.rpcUrl }), info)
  await stopDevChain(other) // a joined chain is never stopped from the joining stack
  assert.equal(await chainIdAt(info.rpcUrl), 31337)
  await assert.rejects(ensureDevChain(other, { join: 'http://127.0.0.1:1' }), /No dev chain answers at http:\/\/127\.0\.0\.1:1/)

  const block = await c.pub.getBlockNumber()
  const pid = readRecord(paths)?.pid
  await stopDevChain(paths)
  assert.equal(await chainIdAt(info.rpcUrl), undefined)
  assert.equal(isAlive(pid!), false)
  assert.equal(readRecord(paths)?.port, Number(new URL(info.rpcUrl).port))

  const again = await ensureDevChain(paths)
  assert.equal(again.rpcUrl, info.rpcUrl)
  assert.notEqual(readRecord(paths)?.pid, pid)
  assert.equal(await usdcBalance(again, info.buyer.address), buyerAfter)
  assert.equal(await usdcBalance(again, PAY_TO), 12_345n)
  assert.equal(await c.pub.getBlockNumber(), block, 'nothing was redeployed')
})

test('Base Sepolia-shaped dev chain: a default x402 client pays the canonical USDC; the registry at its canonical address registers an agent', async (t) => {
  const paths = tempHome(t)
  const info = await ensureDevChain(paths, { chainId: 84532 })
  assert.equal(info.network, 'base-sepolia')
  assert.equal(info.usdc.address, '0x036CbD53842c5426634e7929541eC2318f3dCF7e')
  await pay(info, 10_000n, buyerClient(info)) // default spend controls: no allow-listing
  assert.equal(await usdcBalance(info, PAY_TO), 10_000n)

  const c = chainClients(info.rpcUrl, info.chainId)
  const owner = c.wallet(info.buyer.privateKey)
  const uri = 'https://agent.example/.well-known/agent-registration.json'
  const hash = await owner.writeContract({ address: info.identityRegistry, abi: identityRegistryAbi, functionName: 'register', args: [uri] })
  const receipt = await c.pub.waitForTransactionReceipt({ hash })
  const [registered] = parseEventLogs({ abi: identityRegistryAbi, logs: receipt.logs, eventName: 'Registered' }) as unknown as { args: { agentId: bigint } }[]
  assert.ok(registered)
  const agentId = registered.args.agentId
  assert.equal(await c.pub.readContract({ address: info.identityRegistry, abi: identityRegistryAbi, functionName: 'ownerOf', args: [agentId] }), info.buyer.address)
  assert.equal(await c.pub.readContract({ address: info.identityRegistry, abi: identityRegistryAbi, functionName: 'tokenURI', args: [agentId] }), uri)
  assert.equal(await c.pub.readContract({ address: info.identityRegistry, abi: identityRegistryAbi, functionName: 'name' }), 'AgentIdentity')
  assert.notEqual(await c.pub.getCode({ address: info.multicall3 }), undefined)
})

test('the dev chain outlives a SIGKILLed parent and is reused as is', async (t) => {
  const paths = tempHome(t)
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
    import { ensureDevChain } from ${JSON.stringify(new URL('./devChain.ts', import.meta.url).pathname)}
    import { homePaths } from ${JSON.stringify(new URL('../state/home.ts', import.meta.url).pathname)}
    const info = await ensureDevChain(homePaths(process.env.VEND_HOME))
    process.stdout.write('READY ' + info.rpcUrl + '\\n')
    setInterval(() => {}, 60_000)
  `], { env: { ...process.env, VEND_HOME: paths.root }, stdio: ['ignore', 'pipe', 'inherit'] })
  const rpcUrl = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => { out += d; const m = /READY (\S+)/.exec(out); if (m?.[1]) resolve(m[1]) })
    child.once('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)))
  })
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
  const pid = readRecord(paths)?.pid
  assert.ok(pid && isAlive(pid))
  assert.equal(await chainIdAt(rpcUrl), 31337)

  const info = await ensureDevChain(paths)
  assert.equal(info.rpcUrl, rpcUrl)
  assert.equal(readRecord(paths)?.pid, pid, 'the running chain was reused, not restarted')
  assert.equal(await usdcBalance(info, info.buyer.address), BUYER_START_USDC)
})

test('a missing anvil binary or a damaged state file gives a clear error', async (t) => {
  const paths = tempHome(t)
  await assert.rejects(ensureDevChain(paths, { anvilBinary: join(paths.root, 'no-such-anvil') }), (err: unknown) => {
    assert.ok(err instanceof BaseError)
    assert.equal(err.shortMessage, 'The dev chain needs the optional npm package @foundry-rs/anvil for this platform.')
    assert.match(err.hint ?? '', /npm install --include=optional @foundry-rs\/anvil/)
    return true
  })
  assert.equal(readDevChain(paths), undefined)

  mkdirSync(paths.devchainDir, { recursive: true })
  writeFileSync(stateFile(paths, 31337), '{"block":{"number":"0x1"') // a dump cut short
  await assert.rejects(ensureDevChain(paths), /state file .*anvil-state-31337\.json is damaged.*Move it away/)
})
