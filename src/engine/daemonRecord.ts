/**
 * state/daemon.json: what the running daemon is (pid, control socket, listen address, URL). Written once the
 * daemon listens, removed when it stops cleanly; a record whose pid is gone marks a daemon that was killed.
 */
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../state/atomicWrite.ts'
import type { HomePaths } from '../state/home.ts'

export type DaemonRecord = { pid: number; socket: string; listen: string; url: string; startedAt: string }

const recordPath = (paths: HomePaths): string => join(paths.stateDir, 'daemon.json')

export function writeDaemonRecord(paths: HomePaths, record: DaemonRecord): void {
  writeFileAtomic(recordPath(paths), `${JSON.stringify(record, null, 2)}\n`, 0o600)
}

export function readDaemonRecord(paths: HomePaths): DaemonRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(paths), 'utf8')) as DaemonRecord
  } catch {
    return undefined
  }
}

export function removeDaemonRecord(paths: HomePaths): void {
  rmSync(recordPath(paths), { force: true })
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
