/**
 * Parts of Vend that plug into the daemon but are built separately (the dev chain). Each is loaded
 * when its module exists; until then its seam stays empty and the daemon says so in its log and status.
 * The shapes below are the daemon's side of each contract.
 */
import type { LocalChain } from '../payments/facilitators/registry.ts'
import type { HomePaths } from '../state/home.ts'

/** What the daemon uses of the dev chain: its RPC and, for the local facilitator, the settlement key. */
export type DevChainInfo = LocalChain

/** src/devchain/devChain.ts */
export type DevChainModule = {
  ensureDevChain(paths: HomePaths, opts: { chainId?: number; join?: string }): Promise<DevChainInfo>
  stopDevChain(paths: HomePaths): Promise<void>
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
