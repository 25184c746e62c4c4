/**
 * Offer statuses and first-seen times in the stack's SQLite db. The daemon writes; the CLI reads with
 * readStatuses() on a read-only handle when the daemon is down. A status row is written only when the
 * status changed, so a no-op reconcile pass makes zero writes.
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
  /** The statuses last written (survive restarts: lastTransitionTime stays stable). */
  previous(): ReadonlyMap<string, OfferStatus>
  /**
   * Write the statuses that changed, delete those of offers that are gone (and forget when they were first
   * seen, so a re-created offer is new). Returns the keys written or deleted.
   */
  save(statuses: ReadonlyMap<string, OfferStatus>, nowIso: string): string[]
}

export function createStatusStore(db: Db): StatusStore {
  const seen = new Map<string, number>()
  for (const r of db.prepare('SELECT key, first_seen_ms FROM offer_seen').all() as { key: string; first_seen_ms: number }[]) seen.set(r.key, r.first_seen_ms)
  const previous = new Map<string, OfferStatus>()
  for (const r of db.prepare('SELECT key, status FROM offer_status').all() as { key: string; status: string }[]) {
    previous.set(r.key, JSON.parse(r.status) as OfferStatus)
  }

  const insertSeen = db.prepare('INSERT OR IGNORE INTO offer_seen (key, first_seen_ms) VALUES (?, ?)')
  const deleteSeen = db.prepare('DELETE FROM offer_seen WHERE key = ?')
  const upsert = db.prepare('INSERT INTO offer_status (key, status, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at')
  const remove = db.prepare('DELETE FROM offer_status WHERE key = ?')

  const recordSeen = db.transaction((rows: [string, number][]) => { for (const [k, t] of rows) insertSeen.run(k, t) })
  const write = db.transaction((rows: [string, string][], gone: string[], nowIso: string) => {
    for (const [k, json] of rows) upsert.run(k, json, nowIso)
    for (const k of gone) { remove.run(k); deleteSeen.run(k) }
  })

  return {
    firstSeen(offers) {
      const fresh: [string, number][] = []
      for (const o of offers) {
        if (seen.has(o.key)) continue
        const t = Math.floor(o.seenAt)
        seen.set(o.key, t)
        fresh.push([o.key, t])
      }
      if (fresh.length) recordSeen(fresh)
      return seen
    },
    previous: () => previous,
    save(statuses, nowIso) {
      const rows: [string, string][] = []
      for (const [k, s] of statuses) {
        if (!jsonEqual(previous.get(k), s)) rows.push([k, JSON.stringify(s)])
      }
      const gone = [...new Set([...seen.keys(), ...previous.keys()])].filter((k) => !statuses.has(k))
      if (!rows.length && !gone.length) return []
      write(rows, gone, nowIso)
      for (const [k] of rows) previous.set(k, statuses.get(k)!)
      for (const k of gone) { previous.delete(k); seen.delete(k) }
      return [...rows.map(([k]) => k), ...gone]
    },
  }
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
