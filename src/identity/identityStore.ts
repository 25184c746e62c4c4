/**
 * The stack's ERC-8004 identities: one agent per chain, in the SQLite db (table agent_identity), separate from
 * offers so down/up and purging offers keep it. The record is a cache of the chain: registerStack checks both
 * before it mints, so a lost record never leads to a second agent.
 */
import type { Hex } from 'viem'
import type { Address } from '../offer/networks.ts'
import { registerMigrations, type Db } from '../state/db.ts'

export type IdentityRecord = {
  /** CAIP-2, e.g. eip155:84532. */
  chain: string
  agentId: bigint
  registry: Address
  txHash: Hex | undefined
  agentUri: string
  owner: Address
  createdAt: string
}

/** Operator overrides from `vend sell register --name/--description/--image` (stack-wide). */
export type AgentProfile = { name?: string | undefined; description?: string | undefined; image?: string | undefined }

export const IDENTITY_MIGRATIONS = [
  {
    id: 'identity-001-agent-identity',
    sql: `CREATE TABLE agent_identity (
      chain TEXT PRIMARY KEY,
      agent_id TEXT NOT NULL,
      registry TEXT NOT NULL,
      tx_hash TEXT,
      agent_uri TEXT NOT NULL,
      owner TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE agent_profile (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      name TEXT,
      description TEXT,
      image TEXT,
      updated_at TEXT NOT NULL
    );`,
  },
]
registerMigrations(...IDENTITY_MIGRATIONS)

type Row = { chain: string; agent_id: string; registry: string; tx_hash: string | null; agent_uri: string; owner: string; created_at: string }

const fromRow = (r: Row): IdentityRecord => ({
  chain: r.chain, agentId: BigInt(r.agent_id), registry: r.registry as Address, txHash: (r.tx_hash ?? undefined) as Hex | undefined,
  agentUri: r.agent_uri, owner: r.owner as Address, createdAt: r.created_at,
})

/** Every recorded identity (none when the db predates the identity tables, e.g. a read-only CLI open of an old db). */
export function listIdentities(db: Db): IdentityRecord[] {
  if (!hasTable(db, 'agent_identity')) return []
  return (db.prepare('SELECT * FROM agent_identity ORDER BY chain').all() as Row[]).map(fromRow)
}

export function getIdentity(db: Db, caip2: string): IdentityRecord | undefined {
  if (!hasTable(db, 'agent_identity')) return undefined
  const row = db.prepare('SELECT * FROM agent_identity WHERE chain = ?').get(caip2) as Row | undefined
  return row ? fromRow(row) : undefined
}

/** Insert or replace the identity for `record.chain`. */
export function recordIdentity(db: Db, record: Omit<IdentityRecord, 'createdAt'> & { createdAt?: string }): IdentityRecord {
  const createdAt = record.createdAt ?? new Date().toISOString()
  db.prepare(`INSERT INTO agent_identity (chain, agent_id, registry, tx_hash, agent_uri, owner, created_at)
    VALUES (@chain, @agentId, @registry, @txHash, @agentUri, @owner, @createdAt)
    ON CONFLICT(chain) DO UPDATE SET agent_id = excluded.agent_id, registry = excluded.registry, tx_hash = excluded.tx_hash,
      agent_uri = excluded.agent_uri, owner = excluded.owner, created_at = excluded.created_at`)
    .run({ ...record, agentId: record.agentId.toString(), txHash: record.txHash ?? null, createdAt })
  return { ...record, createdAt }
}

/** Keep the recorded URI in step with the chain after setAgentURI. */
export function updateIdentityUri(db: Db, caip2: string, agentUri: string): void {
  db.prepare('UPDATE agent_identity SET agent_uri = ? WHERE chain = ?').run(agentUri, caip2)
}

/** Forget an identity the chain no longer has (e.g. a dev chain that was reset). */
export function forgetIdentity(db: Db, caip2: string): void {
  db.prepare('DELETE FROM agent_identity WHERE chain = ?').run(caip2)
}

export function getProfile(db: Db): AgentProfile {
  if (!hasTable(db, 'agent_profile')) return {}
  const row = db.prepare('SELECT name, description, image FROM agent_profile WHERE id = 1').get() as
    { name: string | null; description: string | null; image: string | null } | undefined
  return row ? { name: row.name ?? undefined, description: row.description ?? undefined, image: row.image ?? undefined } : {}
}

/** Merge the given fields into the stack's profile (fields left undefined keep their value). */
export function saveProfile(db: Db, profile: AgentProfile): AgentProfile {
  const merged = { ...getProfile(db), ...Object.fromEntries(Object.entries(profile).filter(([, v]) => v !== undefined)) } as AgentProfile
  db.prepare(`INSERT INTO agent_profile (id, name, description, image, updated_at) VALUES (1, @name, @description, @image, @updatedAt)
    ON CONFLICT(id) DO UPDATE SET name = excluded.name, description = excluded.description, image = excluded.image, updated_at = excluded.updated_at`)
    .run({ name: merged.name ?? null, description: merged.description ?? null, image: merged.image ?? null, updatedAt: new Date().toISOString() })
  return merged
}

function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined
}
