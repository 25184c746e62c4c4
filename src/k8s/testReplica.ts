/**
 * Test helper run as a child process: one gateway replica as it runs in a cluster, i.e. the real gateway and
 * payments (createPayments) on the shared Postgres ledger (settlement queue included), the in-process facilitator on the test
 * chain. Config as JSON in VEND_TEST_REPLICA; prints "READY <gateway url>" when serving. A test SIGKILLs it to play
 * a dying pod.
 */
import { routeEntry, startGateway, type OfferParams } from '../gateway/testKit.ts'
import { createPayments } from '../payments/createPayments.ts'
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
const payments = createPayments({
  ledger, config: StackConfig.parse({}), log: quietLog, queueIntervalMs: 100,
  devChain: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, caip2: chain.caip2, settler: chain.settler },
})
await payments.start()
const offers: OfferParams[] = [paidOffer(chain, { name: 'weather', upstreamUrl: cfg.upstreamUrl })]
const gateway = await startGateway({ paymentGate: payments.gate }, offers.map(routeEntry))
process.stdout.write(`READY ${gateway.url}\n`)
process.once('SIGTERM', () => {
  void (async () => { await gateway.stop(); await payments.stop(); await ledger.close(); process.exit(0) })()
})
