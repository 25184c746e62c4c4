/**
 * The daemon's log: JSON lines appended to VEND_HOME/state/daemon.log, e.g.
 * {"t":"2026-11-23T05:00:00.000Z","level":"info","msg":"Reconciled offers","offers":3}.
 * Messages are capitalised, past tense, no trailing period. Never pass a secret as a field; URLs are redacted.
 */
import { closeSync, openSync, renameSync, statSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { ensureDir } from '../state/atomicWrite.ts'
import { BaseError, redactUrl } from '../errors/base.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>
export type Logger = {
  log(level: LogLevel, msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  close(): void
}

/** At open, a log larger than this is moved to <file>.1 (replacing the previous one). */
const ROTATE_BYTES = 10 * 1024 * 1024

export function createLogger(file: string, rotateBytes = ROTATE_BYTES): Logger {
  ensureDir(dirname(file))
  try {
    if (statSync(file).size > rotateBytes) renameSync(file, `${file}.1`)
  } catch { /* no log yet */ }
  let fd: number | undefined = openSync(file, 'a', 0o600)
  const log = (level: LogLevel, msg: string, fields: LogFields = {}): void => {
    if (fd === undefined) return
    const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...sanitize(fields) })
    try { writeSync(fd, `${line}\n`) } catch { /* a full disk must not take the daemon down */ }
  }
  return {
    log,
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    close() {
      if (fd !== undefined) closeSync(fd)
      fd = undefined
    },
  }
}

function sanitize(fields: LogFields): LogFields {
  const out: LogFields = {}
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) {
      out[k] = v instanceof BaseError ? v.line() : v.message
      out[`${k}Name`] = v.name
    } else if (typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(v)) out[k] = redactUrl(v)
    else if (typeof v === 'bigint') out[k] = v.toString()
    else out[k] = v
  }
  return out
}
