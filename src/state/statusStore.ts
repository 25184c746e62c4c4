/**
 * Offer statuses and first-seen times in the stack's SQLite db. The daemon writes; the CLI reads with
 * readStatuses() on a read-only handle when the daemon is down. A status row is written only when the
 * status changed, so a no-op reconcile pass makes zero writes.
 *
 * The store's maps are the truth while the daemon runs (the control socket answers from them); the db copy
 * lets `stack status` read a stopped stack and keeps lastTransitionTime stable across restarts. So writes are
 * queued and flushed in chunks right after the pass, one transaction per event-loop turn: a first pass over
 * 10,000 offers publishes its routes without waiting for 10,000 rows, and the gateway keeps serving while they
 * are written. A crash before the flush loses only those rows: first-seen times come back from the files'
 * mtimes, and the statuses are recomputed (their last transitions stamped at the restart).
 */
import type { OfferStatus } from '../reconciler/types.ts'
import { registerMigrations, type Db } from './db.ts'

export const STATUS_MIGRATIONS = [{
  id: 'engine-0001-offer-status',
  sql: `
    CREATE TABLE offer_seen (key TEXT PRIMARY KEY, first_seen_ms INTEGER NOT NULL);
    CREATE TABLE offer_status (key TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at TEXT NOT NULL);
  `,
}]
registerMigrations(...STATUS_MIGRATIONS)

export type StatusStore = {
  /** When the stack first saw each key; unseen keys are recorded now with the given time (file mtime). */
  firstSeen(offers: readonly { key: string; seenAt: number }[]): ReadonlyMap<string, number>
  /** The statuses last saved (survive restarts: lastTransitionTime stays stable). */
  previous(): ReadonlyMap<string, OfferStatus>
  /**
   * Save the statuses that changed, delete those of offers that are gone (and forget when they were first
   * seen, so a re-created offer is new). Returns the keys saved or deleted; the db is written soon after.
   */
  save(statuses: ReadonlyMap<string, OfferStatus>, nowIso: string): string[]
  /** Resolves once everything saved so far is in the db; rejects if writing failed. */
  flushed(): Promise<void>
  /** Write everything pending now (shutdown). */
  flush(): void
}

/** Rows per transaction: a few milliseconds of the event loop each. */
const CHUNK_ROWS = 500

type StatusRow = { status: OfferStatus; at: string }

/** onWriteError: a background write failed (its rows stay queued for the next save or flush). */
export function createStatusStore(db: Db, onWriteError: (err: unknown) => void = () => {}): StatusStore {
  const seen = new Map<string, number>()
  for (const r of db.prepare('SELECT key, first_seen_ms FROM offer_seen').all() as { key: string; first_seen_ms: number }[]) seen.set(r.key, r.first_seen_ms)
  const previous = new Map<string, OfferStatus>()
  for (const r of db.prepare('SELECT key, status FROM offer_status').all() as { key: string; status: string }[]) {
    previous.set(r.key, JSON.parse(r.status) as OfferStatus)
  }

  const upsertSeen = db.prepare('INSERT OR REPLACE INTO offer_seen (key, first_seen_ms) VALUES (?, ?)')
  const deleteSeen = db.prepare('DELETE FROM offer_seen WHERE key = ?')
  const upsert = db.prepare('INSERT INTO offer_status (key, status, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at')
  const remove = db.prepare('DELETE FROM offer_status WHERE key = ?')

  // What the db still lacks, by key, latest value only (undefined: delete the row).
  const pendingSeen = new Map<string, number | undefined>()
  const pendingStatus = new Map<string, StatusRow | undefined>()
  const write = db.transaction((seenRows: [string, number | undefined][], statusRows: [string, StatusRow | undefined][]) => {
    for (const [k, t] of seenRows) {
      if (t === undefined) deleteSeen.run(k)
      else upsertSeen.run(k, t)
    }
    for (const [k, r] of statusRows) {
      if (r) upsert.run(k, JSON.stringify(r.status), r.at)
      else remove.run(k)
    }
  })

  let waiters: { resolve: () => void; reject: (err: unknown) => void }[] = []
  let scheduled: NodeJS.Immediate | undefined
  const pending = () => pendingSeen.size + pendingStatus.size > 0

  /** Write up to `max` rows; on failure they go back to the queue (unless saved again meanwhile). */
  function writeRows(max: number): void {
    const seenRows = take(pendingSeen, max)
    const statusRows = take(pendingStatus, max - seenRows.length)
    try {
      write(seenRows, statusRows)
    } catch (err) {
      putBack(pendingSeen, seenRows)
      putBack(pendingStatus, statusRows)
      throw err
    }
  }

  function settle(err?: unknown): void {
    const w = waiters
    waiters = []
    for (const x of w) {
      if (err === undefined) x.resolve()
      else x.reject(err)
    }
  }

  function pump(): void {
    scheduled = undefined
    try {
      writeRows(CHUNK_ROWS)
    } catch (err) {
      onWriteError(err)
      settle(err)
      return
    }
    if (pending()) scheduled = setImmediate(pump)
    else settle()
  }

  const schedule = (): void => { if (!scheduled && pending()) scheduled = setImmediate(pump) }

  return {
    firstSeen(offers) {
      for (const o of offers) {
        if (seen.has(o.key)) continue
        const t = Math.floor(o.seenAt)
        seen.set(o.key, t)
        pendingSeen.set(o.key, t)
      }
      schedule()
      return seen
    },
    previous: () => previous,
    save(statuses, nowIso) {
      const changed: string[] = []
      for (const [k, s] of statuses) {
        if (jsonEqual(previous.get(k), s)) continue
        previous.set(k, s)
        pendingStatus.set(k, { status: s, at: nowIso })
        changed.push(k)
      }
      for (const k of new Set([...seen.keys(), ...previous.keys()])) {
        if (statuses.has(k)) continue
        previous.delete(k)
        seen.delete(k)
        pendingStatus.set(k, undefined)
        pendingSeen.set(k, undefined)
        changed.push(k)
      }
      schedule()
      return changed
    },
    flushed() {
      schedule()
      if (!pending()) return Promise.resolve()
      return new Promise((resolve, reject) => { waiters.push({ resolve, reject }) })
    },
    flush() {
      if (scheduled) clearImmediate(scheduled)
      scheduled = undefined
      try {
        writeRows(Infinity)
      } catch (err) {
        settle(err)
        throw err
      }
      settle()
    },
  }
}

/** Remove and return up to `max` entries, oldest first. */
function take<V>(map: Map<string, V>, max: number): [string, V][] {
  const out: [string, V][] = []
  for (const e of map) {
    if (out.length >= max) break
    out.push(e)
    map.delete(e[0])
  }
  return out
}

function putBack<V>(map: Map<string, V>, rows: [string, V][]): void {
  for (const [k, v] of rows) if (!map.has(k)) map.set(k, v)
}

/** Equal as JSON (an undefined property equals a missing one), without serialising: passes compare 10,000s. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bb = b as unknown[]
    if (a.length !== bb.length) return false
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], bb[i])) return false
    return true
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  let defined = 0
  for (const k in ao) {
    if (ao[k] === undefined) continue
    defined++
    if (!jsonEqual(ao[k], bo[k])) return false
  }
  for (const k in bo) if (bo[k] !== undefined) defined--
  return defined === 0
}

/** Last written statuses, sorted by key (the CLI's view of a stopped stack). */
export function readStatuses(db: Db): OfferStatus[] {
  try {
    return (db.prepare('SELECT status FROM offer_status ORDER BY key').all() as { status: string }[]).map((r) => JSON.parse(r.status) as OfferStatus)
  } catch {
    return [] // a db from before the status table existed
  }
}
