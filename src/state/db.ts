/**
 * The stack's SQLite database (VEND_HOME/state/vend.db, WAL). Only the daemon writes it; the CLI opens it
 * read-only. Each domain registers its own migrations (name + SQL), applied once, in order, at open.
 */
import Database from 'better-sqlite3'
import { chmodSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { dirname } from 'node:path'
import { ensureDir } from './atomicWrite.ts'

export type Db = Database.Database
export type Migration = { id: string; sql: string }

const registered: Migration[] = []

/** Register migrations at module load (e.g. the ledger's tables). Ids must be unique and never change. */
export function registerMigrations(...migrations: Migration[]): void {
  for (const m of migrations) if (!registered.some((r) => r.id === m.id)) registered.push(m)
}

export function applyMigrations(db: Db, migrations: readonly Migration[] = registered): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)')
  const done = new Set((db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id))
  for (const m of migrations) {
    if (done.has(m.id)) continue
    db.transaction(() => {
      db.exec(m.sql)
      db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)').run(m.id, new Date().toISOString())
    })()
  }
}

/** Open for writing (the daemon): creates the file 0600 and the state dir 0700, WAL, migrations applied. */
export function openDatabase(path: string): Db {
  ensureDir(dirname(path), 0o700)
  const fresh = !existsSync(path)
  const db = new Database(path)
  if (fresh) chmodSync(path, 0o600)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  applyMigrations(db)
  return db
}

/** The writer's own checkpoints while a background checkpointer runs: only a safety net (~64 MB of WAL). */
const SAFETY_NET_PAGES = 16_000

const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
let db
try {
  db = new Database(workerData.path, { fileMustExist: true })
  db.pragma('busy_timeout = 5000')
} catch {
  db = undefined // the database is gone (its home was removed): nothing to checkpoint
}
if (!db) parentPort.close()
else {
  const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)') } catch {} }
  const timer = setInterval(checkpoint, workerData.intervalMs)
  parentPort.on('message', () => { clearInterval(timer); checkpoint(); db.close(); parentPort.close() })
}
`

/**
 * Checkpoint the WAL from a worker thread, so the writer (the daemon's event loop, paid requests among its work)
 * never waits on a checkpoint's fsyncs: with SQLite's automatic checkpoints every 1,000 pages, they were half of
 * the ledger's cost per payment here. The writer keeps a far larger automatic checkpoint as a safety net.
 */
export function startWalCheckpointer(db: Db, intervalMs = 500): { stop(): Promise<void> } {
  const module = createRequire(import.meta.url).resolve('better-sqlite3')
  const worker = new Worker(CHECKPOINTER, { eval: true, workerData: { module, path: db.name, intervalMs } })
  worker.unref()
  db.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`)
  let stopped: Promise<void> | undefined
  let exited = false
  // should the worker end on its own, the writer checkpoints by itself again (SQLite's default threshold)
  const fallBack = () => { try { if (db.open && !stopped) db.pragma('wal_autocheckpoint = 1000') } catch { /* closed meanwhile */ } }
  worker.on('error', fallBack)
  worker.on('exit', () => { exited = true; fallBack() })
  return {
    stop: () => (stopped ??= new Promise<void>((resolve) => {
      if (exited) { resolve(); return }
      worker.ref()
      worker.once('exit', () => resolve())
      worker.postMessage('stop')
      setTimeout(() => { void worker.terminate() }, 5000).unref()
    })),
  }
}

/** Open read-only (the CLI). Returns undefined when the stack has never run. */
export function openDatabaseReadOnly(path: string): Db | undefined {
  if (!existsSync(path)) return undefined
  const db = new Database(path, { readonly: true, fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  return db
}
