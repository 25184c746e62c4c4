/**
 * The Ledger on Postgres, for replicated gateways (DATABASE_URL). Same interface and contract suite as the SQLite
 * ledger; what changes with several replicas:
 * - the replay lock is the unique constraint (direction, network, asset, payer, nonce): of concurrent copies of one
 *   payment on any replicas, exactly one INSERT wins;
 * - a payment recorded as already owed (optimistic) starts claimed by the replica that took it (it settles it at once);
 * - a replica's hold on an owed settlement (markSettling's lease, or a claim) never exceeds the claim lease, so the
 *   settlement of a replica killed mid-settle is taken over by another one within that time; the takeover is safe
 *   because the transaction hash is stored before broadcast and recovery looks it up on chain first;
 * - dueSettlements claims rows: it selects due rows FOR UPDATE SKIP LOCKED and moves their next attempt one lease
 *   ahead in the same statement, so each owed settlement goes to exactly one replica; a replica that dies holding a
 *   claim leaves the row due again when the lease runs out, and another replica finishes it;
 * - releaseAbandoned releases only this replica's own rows, and other replicas' rows once they are older than any
 *   request could run (a live replica's in-flight request is never released under it).
 * Amounts are NUMERIC(78,0) (any uint256), read back as bigint.
 */
import pg from 'pg'
import type { Ledger, NewPayment, PaymentRecord, PaymentStatus, RecordResult, SummaryRow } from '../payments/ledger/types.ts'

export type PostgresLedgerOptions = {
  connectionString: string
  /** This replica (pod name): owner of the rows it records. */
  owner: string
  /** Schema for the tables (default: the connection's search_path). */
  schema?: string
  /** How long a claimed settlement stays with its replica (default 120 s). */
  claimLeaseMs?: number
  /** A 'verified' row older than this belongs to a dead request whichever replica took it (default 1 h). */
  abandonedAfterMs?: number
  maxConnections?: number
}

const MIGRATION = `
CREATE TABLE IF NOT EXISTS payments (
  id BIGSERIAL PRIMARY KEY,
  direction TEXT NOT NULL DEFAULT 'earned' CHECK (direction IN ('earned','spent')),
  offer TEXT NOT NULL,
  route TEXT,
  resource TEXT,
  network TEXT NOT NULL,
  asset TEXT NOT NULL,
  payer TEXT NOT NULL,
  pay_to TEXT NOT NULL,
  nonce TEXT NOT NULL,
  amount NUMERIC(78,0) NOT NULL,
  charged_amount NUMERIC(78,0),
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  status TEXT NOT NULL CHECK (status IN ('verified','settling','settled','not_charged','failed','expired')),
  settlement TEXT NOT NULL DEFAULT 'onSuccess',
  valid_before BIGINT NOT NULL,
  x402_version INTEGER NOT NULL,
  payload TEXT NOT NULL,
  requirements TEXT NOT NULL,
  facilitator TEXT NOT NULL,
  tx_hash TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  owner TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  settled_at TIMESTAMPTZ,
  UNIQUE (direction, network, asset, payer, nonce)
);
CREATE INDEX IF NOT EXISTS payments_owed ON payments (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS payments_offer ON payments (offer, status);
CREATE INDEX IF NOT EXISTS payments_payer ON payments (network, asset, payer, status);
`

type Row = {
  id: string; direction: string; offer: string; route: string | null; resource: string | null; network: string; asset: string
  payer: string; pay_to: string; nonce: string; amount: string; charged_amount: string | null; prompt_tokens: number | null
  completion_tokens: number | null; status: string; settlement: string; valid_before: string; x402_version: number
  payload: string; requirements: string; facilitator: string; tx_hash: string | null; error: string | null; attempts: number
  next_attempt_at: string | null; created_at: Date; updated_at: Date; settled_at: Date | null
}

const u = <T>(v: T | null): T | undefined => (v === null ? undefined : v)

function toRecord(r: Row): PaymentRecord {
  return {
    id: Number(r.id), direction: r.direction as PaymentRecord['direction'], offer: r.offer, route: u(r.route), resource: u(r.resource),
    network: r.network, asset: r.asset, payer: r.payer, payTo: r.pay_to, nonce: r.nonce, amount: BigInt(r.amount),
    chargedAmount: r.charged_amount === null ? undefined : BigInt(r.charged_amount),
    promptTokens: u(r.prompt_tokens), completionTokens: u(r.completion_tokens), status: r.status as PaymentStatus,
    settlement: r.settlement as PaymentRecord['settlement'], validBefore: Number(r.valid_before), x402Version: r.x402_version,
    payload: r.payload, requirements: r.requirements, facilitator: r.facilitator, txHash: u(r.tx_hash), error: u(r.error),
    attempts: r.attempts, nextAttemptAt: r.next_attempt_at === null ? undefined : Number(r.next_attempt_at),
    createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(), settledAt: r.settled_at?.toISOString(),
  }
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`

/** Connect, create the tables once (under an advisory lock: replicas start together), and return the ledger. */
export async function createPostgresLedger(o: PostgresLedgerOptions): Promise<Ledger> {
  const pool = new pg.Pool({
    connectionString: o.connectionString, max: o.maxConnections ?? 10,
    ...(o.schema ? { options: `-c search_path=${quoteIdent(o.schema)}` } : {}),
  })
  pool.on('error', () => { /* a dropped idle connection is replaced on the next query */ })
  const claimLease = o.claimLeaseMs ?? 120_000
  const abandonedAfter = o.abandonedAfterMs ?? 3_600_000
  const q = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as Row[]
  const update = (id: number, set: string, ...args: unknown[]) =>
    pool.query(`UPDATE payments SET ${set}, updated_at = now() WHERE id = $${args.length + 1}`, [...args, id]).then(() => undefined)

  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query("SELECT pg_advisory_xact_lock(hashtext('vend.payments.migrate'))")
    if (o.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(o.schema)}`)
    await client.query(MIGRATION)
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    await pool.end()
    throw err
  } finally {
    client.release()
  }

  return {
    async recordVerified(p: NewPayment): Promise<RecordResult> {
      const key = [p.direction ?? 'earned', p.network, p.asset.toLowerCase(), p.payer.toLowerCase(), p.nonce.toLowerCase()]
      const ins = await q(`INSERT INTO payments (direction, network, asset, payer, nonce, offer, route, resource, pay_to, amount, status,
          settlement, valid_before, x402_version, payload, requirements, facilitator, next_attempt_at, owner)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
        ON CONFLICT (direction, network, asset, payer, nonce) DO NOTHING RETURNING id`, [
        ...key, p.offer, p.route ?? null, p.resource ?? null, p.payTo.toLowerCase(), p.amount.toString(), p.status ?? 'verified',
        p.settlement, p.validBefore, p.x402Version, p.payload, p.requirements, p.facilitator, p.status === 'settling' ? Date.now() + claimLease : null, o.owner,
      ])
      if (ins[0]) return { ok: true, id: Number(ins[0].id) }
      const existing = await q('SELECT status FROM payments WHERE direction = $1 AND network = $2 AND asset = $3 AND payer = $4 AND nonce = $5', key)
      return { ok: false, existing: (existing[0]?.status ?? 'verified') as PaymentStatus }
    },
    async get(id) {
      const r = await q('SELECT * FROM payments WHERE id = $1', [id])
      return r[0] && toRecord(r[0])
    },
    markSettling: (id, leaseUntil) => update(id, "status = 'settling', next_attempt_at = LEAST($1::bigint, $2::bigint)", leaseUntil, Date.now() + claimLease),
    setTxHash: (id, txHash) => update(id, 'tx_hash = $1', txHash),
    markSettled: (id, txHash, charged) =>
      update(id, "status = 'settled', tx_hash = $1, charged_amount = $2, settled_at = now(), next_attempt_at = NULL, error = NULL, attempts = attempts + 1", txHash, charged.toString()),
    recordUsage: (id, u) => update(id, 'charged_amount = $1, prompt_tokens = $2, completion_tokens = $3, requirements = $4',
      u.chargedAmount.toString(), u.promptTokens, u.completionTokens, u.requirements),
    markNotCharged: (id, reason) => update(id, "status = 'not_charged', error = $1, next_attempt_at = NULL, charged_amount = 0", reason),
    markFailed: (id, reason) => update(id, "status = 'failed', error = $1, next_attempt_at = NULL, charged_amount = 0, attempts = attempts + 1", reason),
    markExpired: (id) => update(id, "status = 'expired', next_attempt_at = NULL, charged_amount = 0"),
    scheduleRetry: (id, error, at) => update(id, "status = 'settling', error = $1, next_attempt_at = $2, attempts = attempts + 1", error, at),
    async dueSettlements(now, limit) {
      const rows = await q(`WITH due AS (
          SELECT id, next_attempt_at FROM payments WHERE direction = 'earned' AND status = 'settling' AND next_attempt_at <= $1
          ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
        UPDATE payments p SET next_attempt_at = $3, updated_at = now() FROM due WHERE p.id = due.id
        RETURNING p.*, due.next_attempt_at AS due_at`, [now, limit, Date.now() + claimLease])
      return (rows as (Row & { due_at: string })[])
        .sort((a, b) => Number(a.due_at) - Number(b.due_at) || Number(a.id) - Number(b.id)).map(toRecord)
    },
    async releaseAbandoned(reason) {
      const r = await pool.query(`UPDATE payments SET status = 'not_charged', error = $1, charged_amount = 0, updated_at = now()
        WHERE direction = 'earned' AND status = 'verified' AND (owner = $2 OR updated_at < now() - make_interval(secs => $3))`, [reason, o.owner, abandonedAfter / 1000])
      return r.rowCount ?? 0
    },
    async unsettledAmount(network, asset, payer) {
      const r = await q("SELECT COALESCE(SUM(amount), 0)::text AS amount FROM payments WHERE direction = 'earned' AND network = $1 AND asset = $2 AND payer = $3 AND status IN ('verified','settling')",
        [network, asset.toLowerCase(), payer.toLowerCase()])
      return BigInt(r[0]?.amount ?? '0')
    },
    async summary(offer, direction = 'earned') {
      const rows = await q(`SELECT offer, status, asset, network, COUNT(*)::int AS count,
          SUM(CASE WHEN status = 'settled' THEN COALESCE(charged_amount, amount) ELSE amount END)::text AS amount
        FROM payments WHERE direction = $1 ${offer ? 'AND offer = $2' : ''} GROUP BY offer, status, network, asset ORDER BY offer, status`, offer ? [direction, offer] : [direction]) as unknown as
        { offer: string; status: PaymentStatus; asset: string; network: string; count: number; amount: string }[]
      return rows.map((r): SummaryRow => ({ offer: r.offer, status: r.status, asset: r.asset, network: r.network, count: r.count, amount: BigInt(r.amount) }))
    },
    async list(options = {}) {
      const limit = options.limit ?? null
      const rows = options.offer
        ? await q('SELECT * FROM payments WHERE offer = $1 ORDER BY id LIMIT $2', [options.offer, limit])
        : await q('SELECT * FROM payments ORDER BY id LIMIT $1', [limit])
      return rows.map(toRecord)
    },
    async close() { await pool.end() },
  }
}
