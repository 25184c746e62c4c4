/**
 * Per-purchase request counters and the last error, in the stack database (only the daemon writes them;
 * `vend buy status` reads them). Payments themselves are in the ledger (direction 'spent').
 */
import type { Statement } from 'better-sqlite3'
import { applyMigrations, registerMigrations, type Db, type Migration } from '../state/db.ts'

export const BUYER_MIGRATIONS: Migration[] = [{
  id: 'buyer-0001-purchase-stats',
  sql: `
CREATE TABLE purchase_stats (
  name TEXT PRIMARY KEY,
  requests INTEGER NOT NULL DEFAULT 0,
  refused INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  last_error_at TEXT,
  updated_at TEXT NOT NULL
);
`,
}]

registerMigrations(...BUYER_MIGRATIONS)

export type PurchaseStats = { requests: number; refused: number; lastError: string | undefined; lastErrorAt: string | undefined }

export type PurchaseStatsStore = {
  /** One request through the purchase; `error` set when it was refused or failed. */
  count(name: string, error?: string): void
}

export function createPurchaseStatsStore(db: Db): PurchaseStatsStore {
  applyMigrations(db, BUYER_MIGRATIONS)
  let ok: Statement<unknown[]> | undefined
  let bad: Statement<unknown[]> | undefined
  return {
    count(name, error) {
      const now = new Date().toISOString()
      if (error === undefined) {
        ok ??= db.prepare(`INSERT INTO purchase_stats (name, requests, updated_at) VALUES (?, 1, ?)
          ON CONFLICT (name) DO UPDATE SET requests = requests + 1, updated_at = excluded.updated_at`)
        ok.run(name, now)
      } else {
        bad ??= db.prepare(`INSERT INTO purchase_stats (name, requests, refused, last_error, last_error_at, updated_at) VALUES (?, 1, 1, ?, ?, ?)
          ON CONFLICT (name) DO UPDATE SET requests = requests + 1, refused = refused + 1, last_error = excluded.last_error,
          last_error_at = excluded.last_error_at, updated_at = excluded.updated_at`)
        bad.run(name, error, now, now)
      }
    },
  }
}

/** Stats from a (read-only) handle; zeros when the purchase never served a request. */
export function readPurchaseStats(db: Db | undefined, name: string): PurchaseStats {
  const empty: PurchaseStats = { requests: 0, refused: 0, lastError: undefined, lastErrorAt: undefined }
  if (!db) return empty
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'purchase_stats'").get()
  if (!has) return empty
  const r = db.prepare('SELECT requests, refused, last_error, last_error_at FROM purchase_stats WHERE name = ?').get(name) as
    { requests: number; refused: number; last_error: string | null; last_error_at: string | null } | undefined
  return r ? { requests: r.requests, refused: r.refused, lastError: r.last_error ?? undefined, lastErrorAt: r.last_error_at ?? undefined } : empty
}
