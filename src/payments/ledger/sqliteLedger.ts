/** The Ledger on the stack's SQLite database (state/vend.db, WAL). Amounts are stored as decimal strings. */
import type { Statement } from 'better-sqlite3'
import { applyMigrations, registerMigrations, type Db, type Migration } from '../../state/db.ts'
import { createGroupCommit } from './groupCommit.ts'
import type { Ledger, NewPayment, PaymentRecord, PaymentStatus, RecordResult, SummaryRow } from './types.ts'

export const LEDGER_MIGRATIONS: Migration[] = [{
  id: 'payments-0001-ledger',
  sql: `
CREATE TABLE payments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  direction TEXT NOT NULL DEFAULT 'earned' CHECK (direction IN ('earned','spent')),
  offer TEXT NOT NULL,
  route TEXT,
  resource TEXT,
  network TEXT NOT NULL,
  asset TEXT NOT NULL,
  payer TEXT NOT NULL,
  pay_to TEXT NOT NULL,
  nonce TEXT NOT NULL,
  amount TEXT NOT NULL,
  charged_amount TEXT,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  status TEXT NOT NULL CHECK (status IN ('verified','settling','settled','not_charged','failed','expired')),
  settlement TEXT NOT NULL DEFAULT 'onSuccess',
  valid_before INTEGER NOT NULL,
  x402_version INTEGER NOT NULL,
  payload TEXT NOT NULL,
  requirements TEXT NOT NULL,
  facilitator TEXT NOT NULL,
  tx_hash TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  settled_at TEXT,
  UNIQUE (direction, network, asset, payer, nonce)
);
CREATE INDEX payments_owed ON payments (status, next_attempt_at);
CREATE INDEX payments_offer ON payments (offer, status);
CREATE INDEX payments_payer ON payments (network, asset, payer, status);
`,
}]

registerMigrations(...LEDGER_MIGRATIONS)

type Row = {
  id: number; direction: string; offer: string; route: string | null; resource: string | null; network: string; asset: string
  payer: string; pay_to: string; nonce: string; amount: string; charged_amount: string | null; prompt_tokens: number | null
  completion_tokens: number | null; status: string; settlement: string; valid_before: number; x402_version: number
  payload: string; requirements: string; facilitator: string; tx_hash: string | null; error: string | null; attempts: number
  next_attempt_at: number | null; created_at: string; updated_at: string; settled_at: string | null
}

const u = <T>(v: T | null): T | undefined => (v === null ? undefined : v)

function toRecord(r: Row): PaymentRecord {
  return {
    id: r.id, direction: r.direction as PaymentRecord['direction'], offer: r.offer, route: u(r.route), resource: u(r.resource),
    network: r.network, asset: r.asset, payer: r.payer, payTo: r.pay_to, nonce: r.nonce, amount: BigInt(r.amount),
    chargedAmount: r.charged_amount === null ? undefined : BigInt(r.charged_amount),
    promptTokens: u(r.prompt_tokens), completionTokens: u(r.completion_tokens), status: r.status as PaymentStatus,
    settlement: r.settlement as PaymentRecord['settlement'], validBefore: r.valid_before, x402Version: r.x402_version,
    payload: r.payload, requirements: r.requirements, facilitator: r.facilitator, txHash: u(r.tx_hash), error: u(r.error),
    attempts: r.attempts, nextAttemptAt: u(r.next_attempt_at), createdAt: r.created_at, updatedAt: r.updated_at, settledAt: u(r.settled_at),
  }
}

const iso = () => new Date().toISOString()

/** Open the ledger on a database handle. A writable handle gets the ledger's migrations applied. */
export function createSqliteLedger(db: Db): Ledger {
  if (!db.readonly) applyMigrations(db, LEDGER_MIGRATIONS)
  const cache = new Map<string, Statement<unknown[]>>()
  const st = (sql: string) => {
    let s = cache.get(sql)
    if (!s) { s = db.prepare<unknown[]>(sql); cache.set(sql, s) }
    return s
  }
  // every write goes through the group commit: one transaction for the writes of one event-loop turn
  const write = createGroupCommit(db)
  const update = (id: number, set: string, ...args: unknown[]): Promise<void> => write(() => {
    st(`UPDATE payments SET ${set}, updated_at = ? WHERE id = ?`).run(...args, iso(), id)
  })

  return {
    recordVerified: (p: NewPayment) => write((): RecordResult => {
      const now = iso()
      const res = st(`INSERT INTO payments (direction, offer, route, resource, network, asset, payer, pay_to, nonce, amount, status,
          settlement, valid_before, x402_version, payload, requirements, facilitator, next_attempt_at, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`).run(
        p.direction ?? 'earned', p.offer, p.route ?? null, p.resource ?? null, p.network, p.asset.toLowerCase(), p.payer.toLowerCase(),
        p.payTo.toLowerCase(), p.nonce.toLowerCase(), p.amount.toString(), p.status ?? 'verified', p.settlement, p.validBefore,
        p.x402Version, p.payload, p.requirements, p.facilitator, p.status === 'settling' ? Date.now() : null, now, now,
      )
      if (res.changes === 1) return { ok: true, id: Number(res.lastInsertRowid) }
      const existing = st('SELECT status FROM payments WHERE direction = ? AND network = ? AND asset = ? AND payer = ? AND nonce = ?')
        .get(p.direction ?? 'earned', p.network, p.asset.toLowerCase(), p.payer.toLowerCase(), p.nonce.toLowerCase()) as { status: PaymentStatus } | undefined
      return { ok: false, existing: existing?.status ?? 'verified' }
    }),
    async get(id) {
      const r = st('SELECT * FROM payments WHERE id = ?').get(id) as Row | undefined
      return r && toRecord(r)
    },
    markSettling: (id, leaseUntil) => update(id, "status = 'settling', next_attempt_at = ?", leaseUntil),
    setTxHash: (id, txHash) => update(id, 'tx_hash = ?', txHash),
    markSettled: (id, txHash, charged) =>
      update(id, "status = 'settled', tx_hash = ?, charged_amount = ?, settled_at = ?, next_attempt_at = NULL, error = NULL, attempts = attempts + 1", txHash, charged.toString(), iso()),
    recordUsage: (id, u) =>
      update(id, 'charged_amount = ?, prompt_tokens = ?, completion_tokens = ?, requirements = ?', u.chargedAmount.toString(), u.promptTokens, u.completionTokens, u.requirements),
    markNotCharged: (id, reason) => update(id, "status = 'not_charged', error = ?, next_attempt_at = NULL, charged_amount = '0'", reason),
    markFailed: (id, reason) => update(id, "status = 'failed', error = ?, next_attempt_at = NULL, charged_amount = '0', attempts = attempts + 1", reason),
    markExpired: (id) => update(id, "status = 'expired', next_attempt_at = NULL, charged_amount = '0'"),
    scheduleRetry: (id, error, at) => update(id, "status = 'settling', error = ?, next_attempt_at = ?, attempts = attempts + 1", error, at),
    async dueSettlements(now, limit) {
      const rows = st("SELECT * FROM payments WHERE direction = 'earned' AND status = 'settling' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?").all(now, limit) as Row[]
      return rows.map(toRecord)
    },
    releaseAbandoned: (reason) => write(() =>
      st("UPDATE payments SET status = 'not_charged', error = ?, charged_amount = '0', updated_at = ? WHERE direction = 'earned' AND status = 'verified'").run(reason, iso()).changes),
    async unsettledAmount(network, asset, payer) {
      const rows = st("SELECT amount FROM payments WHERE direction = 'earned' AND network = ? AND asset = ? AND payer = ? AND status IN ('verified','settling')")
        .all(network, asset.toLowerCase(), payer.toLowerCase()) as { amount: string }[]
      return rows.reduce((s, r) => s + BigInt(r.amount), 0n)
    },
    async summary(offer, direction = 'earned') {
      const rows = (offer
        ? st('SELECT offer, status, asset, network, amount, charged_amount FROM payments WHERE direction = ? AND offer = ?').all(direction, offer)
        : st('SELECT offer, status, asset, network, amount, charged_amount FROM payments WHERE direction = ?').all(direction)) as Pick<Row, 'offer' | 'status' | 'asset' | 'network' | 'amount' | 'charged_amount'>[]
      const out = new Map<string, SummaryRow>()
      for (const r of rows) {
        const k = `${r.offer}\0${r.status}\0${r.network}\0${r.asset}`
        const s = out.get(k) ?? { offer: r.offer, status: r.status as PaymentStatus, asset: r.asset, network: r.network, count: 0, amount: 0n }
        s.count++
        s.amount += BigInt(r.status === 'settled' ? r.charged_amount ?? r.amount : r.amount)
        out.set(k, s)
      }
      return [...out.values()].sort((a, b) => a.offer.localeCompare(b.offer) || a.status.localeCompare(b.status))
    },
    async list(options = {}) {
      const limit = options.limit ?? -1
      const rows = (options.offer
        ? st('SELECT * FROM payments WHERE offer = ? ORDER BY id LIMIT ?').all(options.offer, limit)
        : st('SELECT * FROM payments ORDER BY id LIMIT ?').all(limit)) as Row[]
      return rows.map(toRecord)
    },
    async close() { /* the database handle belongs to the caller */ },
  }
}
