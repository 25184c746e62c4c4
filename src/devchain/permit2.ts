/**
 * Permit2 and the x402 Permit2 proxies at their canonical addresses on a dev chain, so the stock x402 `upto` scheme
 * and `exact` with `assetTransferMethod: "permit2"` settle locally. The contracts are Vend's compatible builds
 * (contracts/permit2, contracts/x402; see contracts/permit2/README.md). Their runtime code comes from an eth_call
 * of the creation code (no transaction, so no deployer nonce moves) and is placed with anvil_setCode. Nothing needs
 * patching afterwards: this Permit2 computes its EIP-712 domain separator from address(this) on every call, and the
 * proxies' only immutable is the canonical Permit2 address, the same on every chain.
 */
import {
  encodeDeployData, maxUint256, parseAbi, publicActions, type Abi, type Account, type Address, type Chain, type Hex,
  type Transport, type WalletClient,
} from 'viem'
import { BaseError, redactUrl } from '../errors/base.ts'
import { chainIdAt } from './anvil.ts'
import artifacts from './artifacts.json' with { type: 'json' }
// types only: contracts.ts imports this module to register the deployments below
import type { ChainClients, DevDeployment } from './contracts.ts'

export const PERMIT2_ADDRESS: Address = '0x000000000022D473030F116dDEE9F6B43aC78BA3'
export const X402_EXACT_PERMIT2_PROXY_ADDRESS: Address = '0x402085c248EeA27D92E8b30b2C58ed07f9E20001'
export const X402_UPTO_PERMIT2_PROXY_ADDRESS: Address = '0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002'

type Artifact = { abi: Abi; bytecode: Hex }
type Names = 'Permit2' | 'x402ExactPermit2Proxy' | 'x402UptoPermit2Proxy'
const ARTIFACTS = (artifacts as unknown as { contracts: Record<Names, Artifact> }).contracts

export const permit2Abi = ARTIFACTS.Permit2.abi
export const x402UptoPermit2ProxyAbi = ARTIFACTS.x402UptoPermit2Proxy.abi
export const x402ExactPermit2ProxyAbi = ARTIFACTS.x402ExactPermit2Proxy.abi

/** Run the creation code in an eth_call and put the runtime code it returns at `address`. */
async function place(c: ChainClients, address: Address, creationCode: Hex): Promise<void> {
  const { data } = await c.pub.call({ data: creationCode })
  if (!data || data === '0x') throw new BaseError(`Building the dev chain contract for ${address} returned no code.`)
  await c.test.setCode({ address, bytecode: data })
}

const proxy = (name: string, address: Address, artifact: Artifact): DevDeployment => ({
  name,
  address,
  deploy: (c, at) => place(c, at, encodeDeployData({ abi: artifact.abi, bytecode: artifact.bytecode, args: [PERMIT2_ADDRESS] })),
})

/** Permit2 first: the proxies call it. Registered in contracts.ts `extraDeployments`, so every dev chain has them. */
export const permit2Deployments: DevDeployment[] = [
  { name: 'Permit2', address: PERMIT2_ADDRESS, deploy: (c, at) => place(c, at, ARTIFACTS.Permit2.bytecode) },
  proxy('x402 exact Permit2 proxy', X402_EXACT_PERMIT2_PROXY_ADDRESS, ARTIFACTS.x402ExactPermit2Proxy),
  proxy('x402 upto Permit2 proxy', X402_UPTO_PERMIT2_PROXY_ADDRESS, ARTIFACTS.x402UptoPermit2Proxy),
]

/**
 * Place Permit2 and the x402 proxies on the anvil at `rpcUrl` where their canonical addresses have no code yet;
 * returns the names placed (empty when all were there).
 */
export async function ensurePermit2Contracts(rpcUrl: string): Promise<string[]> {
  const chainId = await chainIdAt(rpcUrl)
  if (chainId === undefined) {
    throw new BaseError(`No dev chain answers at ${redactUrl(rpcUrl)}.`, { hint: 'Start it first with `vend stack up --dev`, or check the URL.' })
  }
  // loaded here, not at the top: contracts.ts imports this module
  const { chainClients, ensureDeployments } = await import('./contracts.ts')
  return ensureDeployments(chainClients(rpcUrl, chainId), permit2Deployments)
}

const erc20Abi = parseAbi([
  'function allowance(address owner, address spender) view returns (uint256)',
  'function approve(address spender, uint256 amount) returns (bool)',
])

/**
 * Let Permit2 move `token` for the wallet's account (the one-time step before paying with Permit2-based x402
 * schemes): approves the maximum and waits for the receipt. Returns the transaction hash, or undefined when an
 * unlimited approval is already in place (an allowance above half the maximum counts: payments spend it down).
 */
export async function approvePermit2(wallet: WalletClient<Transport, Chain, Account>, token: Address): Promise<Hex | undefined> {
  const client = wallet.extend(publicActions)
  const owner = wallet.account.address
  const allowance = await client.readContract({ address: token, abi: erc20Abi, functionName: 'allowance', args: [owner, PERMIT2_ADDRESS] })
  if (allowance > maxUint256 / 2n) return undefined
  const hash = await wallet.writeContract({ address: token, abi: erc20Abi, functionName: 'approve', args: [PERMIT2_ADDRESS, maxUint256] })
  const receipt = await client.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') {
    throw new BaseError(`Approving Permit2 to spend ${token} for ${owner} reverted (transaction ${hash}).`, {
      hint: 'Check that the token address is an ERC-20 on this chain and that the account has ETH for gas.',
    })
  }
  return hash
}
