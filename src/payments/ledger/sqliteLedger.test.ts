import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../state/db.ts'
import { ledgerSuite } from './ledgerSuite.ts'
import { createSqliteLedger } from './sqliteLedger.ts'

ledgerSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-ledger-'))
  const db = openDatabase(join(dir, 'vend.db'))
  return { ledger: createSqliteLedger(db), cleanup: async () => { db.close(); rmSync(dir, { recursive: true, force: true }) } }
})
