/** viem clients for registry calls on one chain, and where its RPC URL comes from. */
import {
  createPublicClient, createWalletClient, defineChain, http, type Chain, type LocalAccount, type PublicClient,
} from 'viem'
import { arbitrum, arbitrumSepolia, avalanche, avalancheFuji, base, baseSepolia, mainnet, polygon, polygonAmoy } from 'viem/chains'
import { InvalidInputError } from '../errors/base.ts'
import type { ChainInfo } from '../offer/networks.ts'
import type { SignerClient } from './erc8004.ts'

const KNOWN: readonly Chain[] = [base, baseSepolia, mainnet, polygon, polygonAmoy, avalanche, avalancheFuji, arbitrum, arbitrumSepolia]

export type ChainClients = { publicClient: PublicClient; walletClient: SignerClient | undefined }

export function viemChain(chain: ChainInfo, rpcUrl: string): Chain {
  const known = KNOWN.find((c) => c.id === chain.chainId)
  return known
    ? { ...known, rpcUrls: { default: { http: [rpcUrl] } } }
    : defineChain({ id: chain.chainId, name: chain.name, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } })
}

/** Receipt polling: the dev chain mines instantly, so poll it often; public chains use viem's block-time default. */
export function chainClients(chain: ChainInfo, rpcUrl: string, account?: LocalAccount, opts: { pollingIntervalMs?: number } = {}): ChainClients {
  const c = viemChain(chain, rpcUrl)
  const transport = http(rpcUrl, { retryCount: 2 })
  const pollingInterval = opts.pollingIntervalMs ?? (chain.chainId === 31337 ? 200 : undefined)
  const polling = pollingInterval === undefined ? {} : { pollingInterval }
  return {
    publicClient: createPublicClient({ chain: c, transport, ...polling }) as PublicClient,
    walletClient: account ? createWalletClient({ account, chain: c, transport, ...polling }) : undefined,
  }
}

/** VEND_RPC_URL_BASE_SEPOLIA style variable name for a chain. */
export function rpcEnvName(chain: ChainInfo): string {
  return `VEND_RPC_URL_${chain.name.toUpperCase().replace(/-/g, '_')}`
}

/** The RPC URL: the explicit one, then VEND_RPC_URL_<CHAIN>, then the chain's public default endpoint. */
export function rpcUrlFor(chain: ChainInfo, env: NodeJS.ProcessEnv, explicit?: string): string {
  const url = explicit ?? env[rpcEnvName(chain)] ?? KNOWN.find((c) => c.id === chain.chainId)?.rpcUrls.default.http[0]
  if (!url) {
    throw new InvalidInputError(`No RPC endpoint is known for chain ${chain.name}.`, { hint: `Pass --rpc-url <url> or set ${rpcEnvName(chain)}.` })
  }
  return url
}
