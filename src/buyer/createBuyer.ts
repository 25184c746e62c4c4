/**
 * The daemon's buyer: the /buy/* handler with the stack wallet (unlocked once, with VEND_WALLET_PASSWORD, on the
 * first paid request) and the ledger. See buyerHandler.ts for the endpoints.
 *
 *   const buyer = createDaemonBuyer({ paths, db, ledger: payments.ledger, devChain, log })
 *   systemHandler: async (req, res, url) => (await buyer.handle(req, res, url)) || storefront(req, res, url)
 */
import type { LocalAccount } from 'viem'
import { BaseError } from '../errors/base.ts'
import type { Ledger } from '../payments/ledger/types.ts'
import type { Db } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import { createBuyerHandler, type BuyerHandler, type BuyerLog } from './buyerHandler.ts'

export type DaemonBuyerOptions = {
  paths: HomePaths; db: Db; ledger: Ledger; log?: BuyerLog; env?: NodeJS.ProcessEnv
  /**
   * The stack's dev chain (started or joined), the only chain whose RPC URL the daemon knows: purchases on it pay
   * `upto` (Permit2) when the seller offers it. Purchases on other chains pay exact, the seller's full maximum.
   */
  devChain?: { rpcUrl: string; chainId: number } | undefined
}

export function createDaemonBuyer(opts: DaemonBuyerOptions): BuyerHandler {
  let unlocked: Promise<LocalAccount> | undefined
  const account = (): Promise<LocalAccount> => {
    // wallet.ts pulls ethers (keystore decryption): loaded on the first paid request, not at daemon start.
    unlocked ??= import('../identity/wallet.ts').then(({ stackSigner }) => stackSigner(opts.paths, opts.env ?? process.env)).then((s) => {
      if (!s.account) throw new BaseError(s.reason.replace(/\.$/, ''), { hint: 'Then restart the stack (`vend stack down && vend stack up`).' })
      return s.account
    })
    unlocked.catch(() => { unlocked = undefined })
    return unlocked
  }
  const dev = opts.devChain
  const rpcUrl = (network: string) => (dev && network === `eip155:${dev.chainId}` ? dev.rpcUrl : undefined)
  return createBuyerHandler({ paths: opts.paths, db: opts.db, ledger: opts.ledger, account, rpcUrl, ...(opts.log ? { log: opts.log } : {}) })
}
