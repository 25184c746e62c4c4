/**
 * A cross-process lock file (O_EXCL create, holder's pid inside) so `vend sell register` and the daemon's
 * automatic registration never check-then-mint at the same time. A lock left by a dead process is taken over.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { BaseError } from '../errors/base.ts'

export class LockTimeoutError extends BaseError {
  override name = 'LockTimeoutError'
}

export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000)
  for (;;) {
    if (tryAcquire(path)) break
    if (Date.now() > deadline) {
      throw new LockTimeoutError(`Another registration is still running (lock ${path}, pid ${holder(path) ?? 'unknown'}).`, { hint: 'Wait for it to finish, then run the command again.' })
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200))
  }
  try {
    return await fn()
  } finally {
    try { unlinkSync(path) } catch { /* already gone */ }
  }
}

function tryAcquire(path: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o600)
    try { writeSync(fd, String(process.pid)) } finally { closeSync(fd) }
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const pid = holder(path)
  // No pid inside: the holder died between creating and writing it (or is writing it right now).
  const stale = pid === undefined ? ageMs(path) > 10_000 : pid !== process.pid && !alive(pid)
  if (stale) {
    try { unlinkSync(path) } catch { /* someone else took it over first */ }
  }
  return false
}

function holder(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim())
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function ageMs(path: string): number {
  try { return Date.now() - statSync(path).mtimeMs } catch { return 0 }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
