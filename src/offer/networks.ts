/**
 * Chains Vend can take payments on, their aliases, CAIP-2 ids and default USDC assets.
 * USDC EIP-712 domains differ by chain (Base Sepolia is "USDC", Base and Ethereum are "USD Coin"): never guess them.
 */
import { InvalidInputError } from '../errors/base.ts'

export type Address = `0x${string}`

export type AssetInfo = {
  address: Address
  symbol: string
  decimals: number
  /** EIP-712 domain name/version the token signs authorisations with. */
  eip712Name: string
  eip712Version: string
  transferMethod: 'eip3009' | 'permit2'
}

export type ChainInfo = {
  /** Canonical alias, also the x402 v1 network name where one exists. */
  name: string
  aliases: readonly string[]
  chainId: number
  caip2: `eip155:${number}`
  testnet: boolean
  usdc: AssetInfo | undefined
  explorer: string | undefined
  /** ERC-8004 Identity Registry (same address on every chain of a kind). */
  identityRegistry: Address | undefined
}

/** Fixed address of the dev chain's USDC (chain `local`, 31337). The dev chain deploys it there. */
export const DEV_USDC_ADDRESS: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3'

export const IDENTITY_REGISTRY_MAINNET: Address = '0x8004A169FB4a3325136EB29fA0ceB6D2e539a432'
export const IDENTITY_REGISTRY_TESTNET: Address = '0x8004A818BFB912233c491871b3d84c89A494BD9e'

const usdc = (address: Address, eip712Name: 'USDC' | 'USD Coin'): AssetInfo => ({
  address, symbol: 'USDC', decimals: 6, eip712Name, eip712Version: '2', transferMethod: 'eip3009',
})

const chain = (
  name: string, chainId: number, testnet: boolean, asset: AssetInfo | undefined,
  explorer: string | undefined, aliases: string[] = [],
): ChainInfo => ({
  name, aliases, chainId, caip2: `eip155:${chainId}`, testnet, usdc: asset, explorer,
  identityRegistry: chainId === 31337 ? IDENTITY_REGISTRY_TESTNET : testnet ? IDENTITY_REGISTRY_TESTNET : IDENTITY_REGISTRY_MAINNET,
})

export const CHAINS: readonly ChainInfo[] = [
  chain('base', 8453, false, usdc('0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913', 'USD Coin'), 'https://basescan.org', ['base-mainnet']),
  chain('base-sepolia', 84532, true, usdc('0x036CbD53842c5426634e7929541eC2318f3dCF7e', 'USDC'), 'https://sepolia.basescan.org'),
  chain('ethereum', 1, false, usdc('0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', 'USD Coin'), 'https://etherscan.io', ['mainnet', 'ethereum-mainnet']),
  chain('polygon', 137, false, usdc('0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359', 'USD Coin'), 'https://polygonscan.com', ['polygon-mainnet']),
  chain('polygon-amoy', 80002, true, usdc('0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582', 'USD Coin'), 'https://amoy.polygonscan.com'),
  chain('avalanche', 43114, false, usdc('0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E', 'USD Coin'), 'https://snowtrace.io', ['avalanche-mainnet']),
  chain('avalanche-fuji', 43113, true, usdc('0x5425890298aed601595a70AB815c96711a31Bc65', 'USD Coin'), 'https://testnet.snowtrace.io'),
  chain('arbitrum-one', 42161, false, usdc('0xaf88d065e77c8cC2239327C5EDb3A432268e5831', 'USD Coin'), 'https://arbiscan.io', ['arbitrum']),
  chain('arbitrum-sepolia', 421614, true, usdc('0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d', 'USD Coin'), 'https://sepolia.arbiscan.io'),
  chain('local', 31337, true, usdc(DEV_USDC_ADDRESS, 'USDC'), undefined, ['anvil', 'dev']),
]

const byKey = new Map<string, ChainInfo>()
for (const c of CHAINS) {
  byKey.set(c.name, c)
  byKey.set(c.caip2, c)
  for (const a of c.aliases) byKey.set(a, c)
}

/** Resolve an alias (`base-sepolia`) or CAIP-2 id (`eip155:84532`) to a known chain, or undefined. */
export function findChain(network: string): ChainInfo | undefined {
  return byKey.get(network.trim().toLowerCase())
}

export const CHAIN_NAMES = CHAINS.map((c) => c.name)

/** Resolve a network or throw a one-line error naming the known chains. */
export function resolveChain(network: string, flag = '--chain'): ChainInfo {
  const c = findChain(network)
  if (!c) {
    throw new InvalidInputError(`Unknown chain "${network}" for ${flag}.`, {
      hint: `Use one of: ${CHAIN_NAMES.join(', ')} (or its CAIP-2 id, e.g. eip155:84532).`,
    })
  }
  return c
}

export function isAddress(value: string): value is Address {
  return /^0x[0-9a-fA-F]{40}$/.test(value)
}
