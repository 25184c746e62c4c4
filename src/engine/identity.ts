/**
 * The daemon's ERC-8004 side, built on identity/stackIdentity.ts: which RPC each chain is read and registered
 * through, and the stack wallet, unlocked in the background (scrypt takes a moment; the first pass never waits
 * for it). Registration is observed and attempted only on chains the operator pointed the stack at: the dev
 * chain, a VEND_RPC_URL_<CHAIN> variable, or, once the stack has a wallet, the chain's public endpoint.
 */
import type { LocalAccount } from 'viem'
import type { DevChainInfo } from '../devchain/devChain.ts'
import { rpcEnvName, rpcUrlFor } from '../identity/chainClients.ts'
import { createStackIdentity, type StackIdentity } from '../identity/stackIdentity.ts'
import { stackSigner, walletAddress } from '../identity/wallet.ts'
import type { ChainInfo } from '../offer/networks.ts'
import type { Db } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import type { StackConfig } from '../state/stackConfig.ts'
import type { Logger } from './log.ts'

export type DaemonIdentity = StackIdentity & { version(): number }

export function createDaemonIdentity(o: {
  paths: HomePaths; db: Db; config: StackConfig; devChain: DevChainInfo | undefined; logger: Logger
  /** The stack's base URL (known once the gateway listens). */
  baseUrl: () => string
  onChange: () => void
  env?: NodeJS.ProcessEnv
}): DaemonIdentity {
  const env = o.env ?? process.env
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

  stackSigner(o.paths, env, { createIfMissing: Boolean(o.devChain) }).then((s) => {
    if (!s.account) return o.logger.info('Left registration pending: no unlocked stack wallet', { reason: s.reason })
    account = s.account
    o.logger.info(s.created ? 'Created stack wallet' : 'Unlocked stack wallet', { address: s.account.address })
    return identity.refresh()
  }).catch((err: unknown) => o.logger.warn('Failed to unlock the stack wallet', { error: err }))

  return { ...identity, version: () => version }
}
