/**
 * VEND_HOME/state/devchain/: chain.json records the dev chain (port, pid, chain id) so RPC URLs stay stable
 * across restarts; anvil-state-<chainId>.json is anvil's persisted state; a lock file serialises starts and stops.
 */
import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import type { HomePaths } from '../state/home.ts'
import { ensureDir, writeFileAtomic } from '../state/atomicWrite.ts'
import { isAlive } from './anvil.ts'
import { DevChainBusyError } from './errors.ts'

export type DevChainRecord = {
  chainId: number
  rpcUrl: string
  /** Managed chains: the port we keep, and the anvil pid while it runs. */
  port?: number
  pid?: number
  /** Another stack's chain (`join`): never started or stopped from here. */
  joined?: boolean
}

export const recordFile = (paths: HomePaths) => join(paths.devchainDir, 'chain.json')
export const stateFile = (paths: HomePaths, chainId: number) => join(paths.devchainDir, `anvil-state-${chainId}.json`)
export const logFile = (paths: HomePaths) => join(paths.devchainDir, 'anvil.log')

export function readRecord(paths: HomePaths): DevChainRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(recordFile(paths), 'utf8')) as Partial<DevChainRecord>
    return typeof r.chainId === 'number' && typeof r.rpcUrl === 'string' ? r as DevChainRecord : undefined
  } catch {
    return undefined
  }
}

export function writeRecord(paths: HomePaths, record: DevChainRecord): void {
  writeFileAtomic(recordFile(paths), `${JSON.stringify(record, null, 2)}\n`)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Run `fn` holding VEND_HOME's dev chain lock (a pid file; a dead holder's lock is taken over). */
export async function withDevChainLock<T>(paths: HomePaths, fn: () => Promise<T>): Promise<T> {
  ensureDir(paths.devchainDir)
  const lock = join(paths.devchainDir, 'lock')
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let holder = Number.NaN
      try { holder = Number(readFileSync(lock, 'utf8')) } catch { /* released meanwhile */ }
      if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) {
        try { unlinkSync(lock) } catch { /* someone else took it over */ }
        continue
      }
      if (Date.now() > deadline) {
        throw new DevChainBusyError({ pid: holder, lock })
      }
      await sleep(50)
    }
  }
  try {
    return await fn()
  } finally {
    try { unlinkSync(lock) } catch { /* already gone */ }
  }
}
