/**
 * The daemon's ERC-8004 side, built on identity/stackIdentity.ts: which RPC each chain is read and registered
 * through, and the stack wallet, unlocked in the background (scrypt takes a moment; the first pass never waits
 * for it). Registration is observed and attempted only on chains the operator pointed the stack at: the dev
 * chain, a VEND_RPC_URL_<CHAIN> variable, or, once the stack has a wallet, the chain's public endpoint.
 */
import { createPublicClient, http, type Address, type LocalAccount } from 'viem'
import { fundEth, type DevChainInfo } from '../devchain/devChain.ts'
import { rpcEnvName, rpcUrlFor } from '../identity/chainClients.ts'
import { createStackIdentity, type StackIdentity } from '../identity/stackIdentity.ts'
import { stackSigner, walletAddress } from '../identity/wallet.ts'
import type { ChainInfo } from '../offer/networks.ts'
import { applyMigrations, type Db } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import type { StackConfig } from '../state/stackConfig.ts'
import type { Logger } from './log.ts'

/** Dev mode: a stack wallet with less ETH than this is given DEV_GAS_WEI, so registration needs no manual step. */
const DEV_GAS_MIN_WEI = 10n ** 17n
const DEV_GAS_WEI = 10n ** 18n

export type DaemonIdentity = StackIdentity & { version(): number }

export function createDaemonIdentity(o: {
  paths: HomePaths; db: Db; config: StackConfig; devChain: DevChainInfo | undefined; logger: Logger
  /** The stack's base URL (known once the gateway listens). */
  baseUrl: () => string
  onChange: () => void
  env?: NodeJS.ProcessEnv
}): DaemonIdentity {
  const env = o.env ?? process.env
  // The daemon opened the db before this module (lazily imported) registered the identity tables: create them now.
  applyMigrations(o.db)
  let account: LocalAccount | undefined
  let version = 0
  const rpcUrl = (chain: ChainInfo): string | undefined => {
    if (o.devChain && chain.chainId === o.devChain.chainId) return o.devChain.rpcUrl
    if (env[rpcEnvName(chain)]) return env[rpcEnvName(chain)]
    if (!walletAddress(o.paths)) return undefined
    try { return rpcUrlFor(chain, env) } catch { return undefined }
  }
  const identity = createStackIdentity({
    db: o.db,
    // Registration files must be reachable by others: a public URL, or the loopback URL on the dev chain.
    publicUrl: () => (o.config.publicUrl || o.devChain ? o.baseUrl() : undefined),
    account: () => account,
    rpcUrl,
    onChange: () => { version++; o.onChange() },
    log: (event, fields) => o.logger.info(event, fields),
  })

  stackSigner(o.paths, env, { createIfMissing: Boolean(o.devChain) }).then(async (s) => {
    if (!s.account) return o.logger.info('Left registration pending: no unlocked stack wallet', { reason: s.reason })
    o.logger.info(s.created ? 'Created stack wallet' : 'Unlocked stack wallet', { address: s.account.address })
    if (o.devChain) await giveDevGas(o.devChain, s.account.address, o.logger).catch((err: unknown) => o.logger.warn('Failed to give the stack wallet dev-chain gas', { error: err }))
    account = s.account
    return identity.refresh()
  }).catch((err: unknown) => o.logger.warn('Failed to unlock the stack wallet', { error: err }))

  return { ...identity, version: () => version }
}

async function giveDevGas(devChain: DevChainInfo, address: Address, logger: Logger): Promise<void> {
  const balance = await createPublicClient({ transport: http(devChain.rpcUrl) }).getBalance({ address })
  if (balance >= DEV_GAS_MIN_WEI) return
  await fundEth(devChain, address, DEV_GAS_WEI)
  logger.info('Gave the stack wallet dev-chain gas', { address, wei: DEV_GAS_WEI.toString() })
}
