/**
 * Test helper run as a child process: one gateway replica as it runs in a cluster, i.e. the real gateway and
 * payment gate on the shared Postgres ledger (settlement queue included), the in-process facilitator on the test
 * chain. Config as JSON in VEND_TEST_REPLICA; prints "READY <gateway url>" when serving. A test SIGKILLs it to play
 * a dying pod.
 */
import { routeEntry, startGateway, type OfferParams } from '../gateway/testKit.ts'
import { createFacilitatorRegistry } from '../payments/facilitators/registry.ts'
import { createPaymentGate } from '../payments/gate.ts'
import { createSettlementQueue } from '../payments/settlement.ts'
import type { TestChain } from '../payments/testChain.ts'
import { paidOffer, quietLog } from '../payments/testStack.ts'
import { StackConfig } from '../state/stackConfig.ts'
import { createPostgresLedger } from './postgresLedger.ts'

type Config = {
  databaseUrl: string; schema: string; owner: string; claimLeaseMs: number; upstreamUrl: string
  chain: Pick<TestChain, 'rpcUrl' | 'chainId' | 'caip2' | 'usdc' | 'settler' | 'payTo'>
}

const cfg = JSON.parse(process.env.VEND_TEST_REPLICA ?? '{}') as Config
const chain = cfg.chain as TestChain
const ledger = await createPostgresLedger({ connectionString: cfg.databaseUrl, schema: cfg.schema, owner: cfg.owner, claimLeaseMs: cfg.claimLeaseMs })
const registry = createFacilitatorRegistry({ config: StackConfig.parse({}), devChain: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, caip2: chain.caip2, settler: chain.settler } })
const queue = createSettlementQueue({ ledger, log: quietLog, intervalMs: 100, facilitatorFor: (row) => registry.byId(row.facilitator, row.network) })
const gate = createPaymentGate({ ledger, facilitators: registry, queue, log: quietLog })
await queue.start()
await registry.refreshAll()
const offers: OfferParams[] = [paidOffer(chain, { name: 'weather', upstreamUrl: cfg.upstreamUrl })]
const gateway = await startGateway({ paymentGate: gate }, offers.map(routeEntry))
process.stdout.write(`READY ${gateway.url}\n`)
process.once('SIGTERM', () => {
  void (async () => { await gateway.stop(); await queue.stop(); await registry.close(); await ledger.close(); process.exit(0) })()
})
