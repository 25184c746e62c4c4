/**
 * Parts of Vend that plug into the daemon but are built separately (the dev chain, payments). Each is loaded
 * when its module exists; until then its seam stays empty and the daemon says so in its log and status.
 * The shapes below are the daemon's side of each contract.
 */
import type { PaymentGate } from '../gateway/createGateway.ts'
import type { ServiceOffer } from '../offer/schema.ts'
import type { FacilitatorObservation } from '../reconciler/types.ts'
import type { Db } from '../state/db.ts'
import type { HomePaths } from '../state/home.ts'
import type { StackConfig } from '../state/stackConfig.ts'
import type { Logger } from './log.ts'

export type DevChainInfo = { rpcUrl: string; chainId: number; caip2: string }

/** src/devchain/devChain.ts */
export type DevChainModule = {
  ensureDevChain(paths: HomePaths, opts: { chainId?: number; join?: string }): Promise<DevChainInfo>
  stopDevChain(paths: HomePaths): Promise<void>
}

export type Payments = {
  gate: PaymentGate
  facilitatorFor(caip2: string, offer: ServiceOffer): FacilitatorObservation
  start(): Promise<void>
  stop(): Promise<void>
}

/** src/payments/createPayments.ts */
export type PaymentsModule = {
  createPayments(opts: { db: Db; config: StackConfig; devChain?: DevChainInfo | undefined; log: Logger }): Payments | Promise<Payments>
}

/** Import a sibling module of src/ by its path under src/ (e.g. 'devchain/devChain.ts'), or undefined when absent. */
export async function loadOptional<T>(srcPath: string): Promise<T | undefined> {
  const url = new URL(`../${srcPath}`, import.meta.url)
  try {
    return (await import(url.href)) as T
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes(srcPath)) return undefined
    throw err
  }
}
