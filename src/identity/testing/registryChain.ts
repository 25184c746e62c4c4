/**
 * Test support: a real anvil with the project's ERC-8004 registry (the dev chain's MiniIdentityRegistry) placed at the
 * canonical testnet address, so tests run the production code path (chain.identityRegistry) unchanged.
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { createTestClient, http, toHex, type Abi, type Hex, type LocalAccount } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { findChain, type Address, type ChainInfo } from '../../offer/networks.ts'
import { chainClients, type ChainClients } from '../chainClients.ts'
import artifacts from '../../devchain/artifacts.json' with { type: 'json' }

/** anvil's default dev keys (accounts #0..#2). */
export const DEV_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
] as const

export type RegistryChain = {
  rpcUrl: string
  chain: ChainInfo
  registry: Address
  clients: (account?: LocalAccount) => ChainClients
  /** Give `address` this balance of the native token (anvil_setBalance). */
  setBalance: (address: Address, wei: bigint) => Promise<void>
  mine: (blocks: number) => Promise<void>
  stop: () => Promise<void>
}

const require = createRequire(import.meta.url)

/** The dev chain's compiled registry (kit MiniIdentityRegistry, solc 0.8.37), so tests and `vend stack up --dev` run the same bytecode. */
function registryArtifact(): { abi: Abi; bytecode: Hex } {
  return (artifacts as unknown as { contracts: { MiniIdentityRegistry: { abi: Abi; bytecode: Hex } } }).contracts.MiniIdentityRegistry
}

export async function startRegistryChain(network = 'base-sepolia'): Promise<RegistryChain> {
  const chain = findChain(network)!
  const bin = require.resolve('@foundry-rs/anvil-linux-amd64/bin/anvil')
  const child = spawn(bin, ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(chain.chainId)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const rpcUrl = await new Promise<string>((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      const m = buf.match(/Listening on ([\d.]+:\d+)/)
      if (m) resolve(`http://${m[1]}`)
    })
    child.once('exit', (code) => reject(new Error(`anvil exited ${code}: ${buf}`)))
  })
  const stop = () => new Promise<void>((r) => { if (child.exitCode !== null) return r(); child.once('exit', () => r()); child.kill('SIGTERM') })
  try {
    const deployer = privateKeyToAccount(DEV_KEYS[2])
    const { publicClient, walletClient } = chainClients(chain, rpcUrl, deployer, { pollingIntervalMs: 50 })
    const test = createTestClient({ mode: 'anvil', transport: http(rpcUrl) })
    const { abi, bytecode } = registryArtifact()
    const hash = await walletClient!.deployContract({ abi, bytecode })
    const deployed = (await publicClient.waitForTransactionReceipt({ hash })).contractAddress!
    const registry = chain.identityRegistry!
    await test.setCode({ address: registry, bytecode: (await publicClient.getCode({ address: deployed }))! })
    for (const s of [0n, 1n]) {
      const slot = toHex(s, { size: 32 })
      await test.setStorageAt({ address: registry, index: slot, value: (await publicClient.getStorageAt({ address: deployed, slot }))! })
    }
    return {
      rpcUrl, chain, registry, stop,
      clients: (account) => chainClients(chain, rpcUrl, account, { pollingIntervalMs: 50 }),
      setBalance: (address, wei) => test.setBalance({ address, value: wei }),
      mine: (blocks) => test.mine({ blocks }),
    }
  } catch (err) {
    await stop()
    throw err
  }
}
