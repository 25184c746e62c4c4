/** `vend stack logs [-f]`: the daemon's JSON-lines log, one readable line per entry (or raw with --json). */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import { BaseError } from '../../errors/base.ts'
import type { CliContext } from '../context.ts'

export type LogOptions = { follow: boolean; json: boolean; tail: number | undefined }

const POLL_MS = 250

export async function printLogs(ctx: CliContext, opts: LogOptions): Promise<void> {
  const file = ctx.paths().log
  if (!existsSync(file) && !opts.follow) {
    throw new BaseError(`No daemon log yet (${file}).`, { hint: 'Start the stack with `vend stack up`.' })
  }
  const show = (line: string) => { if (line.trim()) ctx.io.out(opts.json ? line : formatLogLine(line)) }
  let offset = 0
  let partial = ''
  /** Complete lines appended since the last call. */
  const readNew = (): string[] => {
    if (!existsSync(file)) return []
    const size = statSync(file).size
    if (size < offset) offset = 0 // truncated: start over
    if (size === offset) return []
    const fd = openSync(file, 'r')
    try {
      const buf = Buffer.alloc(size - offset)
      const n = readSync(fd, buf, 0, buf.length, offset)
      offset += n
      const lines = (partial + buf.subarray(0, n).toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      return lines
    } finally {
      closeSync(fd)
    }
  }
  const first = readNew()
  ;(opts.tail === undefined ? first : first.slice(-opts.tail)).forEach(show)
  if (!opts.follow) return
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => readNew().forEach(show), POLL_MS)
    const stop = () => { clearInterval(timer); resolve() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

/** {"t":"...","level":"info","msg":"Reconciled offers","offers":3} -> "2026-... INFO  Reconciled offers offers=3" */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>
  try { entry = JSON.parse(line) as Record<string, unknown> } catch { return line }
  const { t, level, msg, ...fields } = entry
  const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
  return [String(t ?? ''), String(level ?? '').toUpperCase().padEnd(5), String(msg ?? ''), ...extra].join(' ').trim()
}
