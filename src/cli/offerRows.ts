/**
 * What `sell list`, `sell status`, `get offers` and `stack status` show for each offer: the files on disk
 * (the desired state, including the ones that fail to parse) joined with the running daemon's conditions.
 * A stopped stack still lists its offers, with Ready Unknown "stack is not running".
 */
import { readFileSync } from 'node:fs'
import type { DaemonStatus } from '../engine/api.ts'
import { locateProblem, type OfferProblem } from '../offer/parseOffers.ts'
import { OfferInvalidError, reservedPathReason, resolveOffer, type ResolvedOffer } from '../offer/resolveOffer.ts'
import type { ServiceOffer } from '../offer/schema.ts'
import type { Condition, OfferStatus } from '../reconciler/types.ts'
import { createOfferScanner } from '../state/offerScanner.ts'
import type { OfferFileRecord } from '../state/offerStore.ts'
import { baseUrl, readStackConfig } from '../state/stackConfig.ts'
import type { CliContext } from './context.ts'
import { engineFor } from './engine.ts'

export type OfferRow = {
  key: string
  namespace: string
  name: string
  /** Path relative to VEND_HOME. */
  file: string
  offer: ServiceOffer | undefined
  resolved: ResolvedOffer | undefined
  problem: OfferProblem | undefined
  endpoint: string | undefined
  price: string | undefined
  conditions: Condition[]
  ready: boolean
  status: OfferStatus | undefined
}

export type OfferFilter = { namespace?: string | undefined; all?: boolean | undefined; name?: string | undefined }

export type OfferView = { daemon: DaemonStatus; rows: OfferRow[] }

export async function loadOffers(ctx: CliContext, filter: OfferFilter = { all: true }): Promise<OfferView> {
  const paths = ctx.paths()
  const daemon = await (await engineFor(ctx)).status()
  const base = (daemon.url ?? configuredBaseUrl(ctx))?.replace(/\/+$/, '')
  const byKey = new Map((daemon.running ? daemon.offers ?? [] : []).map((s) => [s.key, s]))
  const rows = createOfferScanner(paths).scan().records
    .filter((r) => filter.all || r.namespace === (filter.namespace ?? 'default'))
    .filter((r) => filter.name === undefined || r.name === filter.name)
    .map((r) => toRow(r, daemon.running, byKey.get(r.key), base))
  return { daemon, rows }
}

function configuredBaseUrl(ctx: CliContext): string | undefined {
  try { return baseUrl(readStackConfig(ctx.paths())) } catch { return undefined }
}

function toRow(rec: OfferFileRecord, running: boolean, status: OfferStatus | undefined, base: string | undefined): OfferRow {
  const row: OfferRow = {
    key: rec.key, namespace: rec.namespace, name: rec.name, file: rec.file, offer: rec.offer, resolved: undefined,
    problem: rec.problem, endpoint: undefined, price: undefined, conditions: [], ready: false, status,
  }
  if (rec.offer) {
    try {
      row.resolved = resolveOffer(rec.offer)
      const reserved = reservedPathReason(row.resolved.path)
      if (reserved) row.problem = { file: rec.file, line: undefined, message: `spec.path: ${reserved}` }
    } catch (err) {
      if (!(err instanceof OfferInvalidError) || !err.problems[0]) throw err
      row.problem = locateProblem(readFileSync(rec.path, 'utf8'), rec.file, err.problems[0])
    }
  }
  const r = row.resolved
  if (r) {
    row.price = `${r.price.decimal} ${r.asset.symbol}/${r.price.unit === 'perMTok' ? 'MTok' : 'request'}`
    if (base) row.endpoint = base + r.path
  }
  if (row.problem) {
    const p = row.problem
    row.conditions = [{ type: 'Valid', status: 'False', reason: 'InvalidSpec', message: `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}` }]
  } else if (!running) {
    row.conditions = [
      { type: 'Valid', status: 'True', reason: 'Valid', message: 'The offer file is valid.' },
      { type: 'Ready', status: 'Unknown', reason: 'StackNotRunning', message: 'stack is not running; start it with `vend stack up`.' },
    ]
  } else if (status) {
    row.conditions = status.conditions
    row.ready = status.ready
  } else {
    row.conditions = [
      { type: 'Valid', status: 'True', reason: 'Valid', message: 'The offer file is valid.' },
      { type: 'Ready', status: 'Unknown', reason: 'Pending', message: 'The stack has not reconciled this offer yet.' },
    ]
  }
  return row
}

/** The `--json` shape of one offer in `sell list` and `stack status`. */
export function rowJson(row: OfferRow): Record<string, unknown> {
  const r = row.resolved
  return {
    name: row.name,
    namespace: row.namespace,
    file: row.file,
    type: row.offer?.spec.type ?? null,
    path: r?.path ?? null,
    endpoint: row.endpoint ?? null,
    payTo: row.offer?.spec.payment.payTo ?? null,
    network: r?.chain.name ?? row.offer?.spec.payment.network ?? null,
    price: row.price ?? null,
    conditions: row.conditions.map(({ type, status, reason, message }) => ({ type, status, reason, message })),
    ready: row.ready,
    ...(row.problem ? { problem: { file: row.problem.file, line: row.problem.line ?? null, message: row.problem.message } } : {}),
  }
}
