/**
 * Everything the daemon needs for payments in one call: the ledger on the stack database, the facilitator
 * registry (stack.yaml + dev chain), the settlement queue and the PaymentGate for the gateway.
 *
 *   const payments = createPayments({ db, config, devChain, log })   // or { ledger, ... }
 *   await payments.start()                       // recovers owed settlements, refreshes facilitators
 *   gateway.setPaymentGate(payments.gate)
 *   observations.facilitatorFor = payments.facilitatorFor
 *   ...
 *   await gateway.stop(); await payments.stop()  // after the gateway drained
 */
import type { PaymentGate } from '../gateway/createGateway.ts'
import type { ServiceOffer } from '../offer/schema.ts'
import type { FacilitatorObservation } from '../reconciler/types.ts'
import type { Db } from '../state/db.ts'
import type { StackConfig } from '../state/stackConfig.ts'
import { createFacilitatorRegistry, type FacilitatorRegistry, type LocalChain } from './facilitators/registry.ts'
import { createPaymentGate } from './gate.ts'
import { createSqliteLedger } from './ledger/sqliteLedger.ts'
import type { Ledger } from './ledger/types.ts'
import { createSettlementQueue, type PaymentsLog } from './settlement.ts'

/** The ledger: on the stack database (SQLite), or one given (the Postgres ledger of Kubernetes replicas). */
export type CreatePaymentsOptions = ({ db: Db } | { ledger: Ledger }) & {
  /** A registry the caller already uses (and closes); default: one built from `config` and `devChain`. */
  registry?: FacilitatorRegistry
  config: StackConfig
  /** The running dev chain (DevChainInfo): enables the local facilitator on its network. */
  devChain?: LocalChain | undefined
  log: PaymentsLog
  env?: NodeJS.ProcessEnv
  /** How often remote facilitators' /supported is refreshed (default 30 s). */
  refreshIntervalMs?: number
  /** How often the settlement queue looks for due retries (default 1 s). */
  queueIntervalMs?: number
}

export type Payments = {
  gate: PaymentGate
  /** FacilitatorObservation for the reconciler (Observations.facilitatorFor). */
  facilitatorFor(caip2: string, offer: ServiceOffer): FacilitatorObservation
  /** Facilitators in use, for `stack status`. */
  facilitators(): ReturnType<FacilitatorRegistry['list']>
  ledger: Ledger
  registry: FacilitatorRegistry
  start(): Promise<void>
  /** Stop after the gateway has drained: waits for settlements in progress. */
  stop(): Promise<void>
}

export function createPayments(opts: CreatePaymentsOptions): Payments {
  const ledger = 'ledger' in opts ? opts.ledger : createSqliteLedger(opts.db)
  const ownRegistry = !opts.registry
  const registry = opts.registry ?? createFacilitatorRegistry({ config: opts.config, devChain: opts.devChain, ...(opts.env ? { env: opts.env } : {}) })
  const queue = createSettlementQueue({
    ledger, log: opts.log, ...(opts.queueIntervalMs ? { intervalMs: opts.queueIntervalMs } : {}),
    facilitatorFor: (row) => registry.byId(row.facilitator, row.network),
  })
  const gate = createPaymentGate({ ledger, facilitators: registry, queue, log: opts.log })
  let timer: NodeJS.Timeout | undefined

  return {
    gate, ledger, registry,
    facilitatorFor: (caip2, offer) => registry.observe(caip2, offer),
    facilitators: () => registry.list(),
    async start() {
      await queue.start()
      await registry.refreshAll()
      timer = setInterval(() => void registry.refreshAll(), opts.refreshIntervalMs ?? 30_000)
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      timer = undefined
      await queue.stop()
      if (ownRegistry) await registry.close()
    },
  }
}
