/**
 * Read-only access to the ledger for the CLI (`vend sell earnings`, `vend ledger export`): opens VEND_HOME's
 * database read-only; a stack that never ran, or never took a payment, has an empty ledger.
 */
import { openDatabaseReadOnly } from '../../state/db.ts'
import type { HomePaths } from '../../state/home.ts'
import { createSqliteLedger } from './sqliteLedger.ts'
import type { PaymentRecord, SummaryRow } from './types.ts'

export async function withReadOnlyLedger<T>(paths: HomePaths, empty: T, fn: (ledger: ReturnType<typeof createSqliteLedger>) => Promise<T>): Promise<T> {
  const db = openDatabaseReadOnly(paths.db)
  if (!db) return empty
  try {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'payments'").get()
    if (!has) return empty
    return await fn(createSqliteLedger(db))
  } finally {
    db.close()
  }
}

export const readSummary = (paths: HomePaths, offer?: string) =>
  withReadOnlyLedger<SummaryRow[]>(paths, [], (l) => l.summary(offer))

export const readPayments = (paths: HomePaths, offer?: string) =>
  withReadOnlyLedger<PaymentRecord[]>(paths, [], (l) => l.list(offer ? { offer } : {}))
