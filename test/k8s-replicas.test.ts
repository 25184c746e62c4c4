/**
 * Two gateway replicas (separate processes, as two pods) on one Postgres ledger, with real x402 payments: anvil +
 * USDC, the real gateway and payment gate, the in-process facilitator. A payment sent to both replicas at once is
 * served and settled once; a settlement owed by a replica that is killed is finished by the other one.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { Ledger } from '../src/payments/ledger/types.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { payingFetch, signedHeader, startUpstream, until, type Upstream } from '../src/payments/testStack.ts'
import { createPostgresLedger } from '../src/k8s/postgresLedger.ts'
import { startPostgres, type TestPostgres } from './helpers/postgres.ts'

const PRICE = 10_000n
let chain: TestChain
let upstream: Upstream
let pg: TestPostgres
let ledger: Ledger
const schema = `r_${randomUUID().replace(/-/g, '')}`
const children = new Set<ChildProcess>()
let a: { child: ChildProcess; url: string }
let b: { child: ChildProcess; url: string }

async function startReplica(owner: string): Promise<{ child: ChildProcess; url: string }> {
  const env = {
    ...process.env,
    VEND_TEST_REPLICA: JSON.stringify({
      databaseUrl: pg.url, schema, owner, claimLeaseMs: 1500, upstreamUrl: upstream.url,
      chain: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, caip2: chain.caip2, usdc: chain.usdc, settler: chain.settler, payTo: chain.payTo },
    }),
  }
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../src/k8s/testReplica.ts', import.meta.url).pathname], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  const url = await new Promise<string>((resolve, reject) => {
    let buf = ''
    child.stdout!.on('data', (d) => { buf += d; const m = /READY (\S+)/.exec(buf); if (m) resolve(m[1]!) })
    child.once('exit', (code) => reject(new Error(`replica ${owner} exited ${code}: ${buf}`)))
  })
  return { child, url }
}

before(async () => {
  ;[chain, upstream, pg] = await Promise.all([startTestChain(), startUpstream({}), startPostgres()])
  ledger = await createPostgresLedger({ connectionString: pg.url, schema, owner: 'test' })
  ;[a, b] = await Promise.all([startReplica('gateway-a'), startReplica('gateway-b')])
})

after(async () => {
  for (const c of children) c.kill('SIGKILL')
  await ledger?.close()
  await pg?.stop()
  await upstream?.close()
  await chain?.stop()
})

const balances = async () => [await chain.balanceOf(chain.buyer.address), await chain.balanceOf(chain.payTo.address)] as const
const settlerTxCount = async () => BigInt(await chain.rpc<string>('eth_getTransactionCount', [chain.settler.address, 'latest']))

test('10 concurrent copies of one payment across two replicas: served once, settled once', async () => {
  const challenge = await fetch(`${a.url}/services/weather/once`)
  assert.equal(challenge.status, 402)
  const header = await signedHeader(chain, decodePaymentRequiredHeader(challenge.headers.get('payment-required')!).accepts[0]!)
  const [buyer0, payTo0] = await balances()
  const tx0 = await settlerTxCount()
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => fetch(`${(i % 2 ? b : a).url}/services/weather/once`, { headers: { 'payment-signature': header } })
    .then(async (r) => ({ status: r.status, body: await r.json() as { reason?: string } }))))
  assert.equal(results.filter((r) => r.status === 200).length, 1)
  const refused = results.filter((r) => r.status === 402)
  assert.equal(refused.length, 9)
  for (const r of refused) assert.equal(r.body.reason, 'invalid_exact_evm_nonce_already_used')
  assert.equal(upstream.hits.get('/once'), 1)
  const [buyer1, payTo1] = await balances()
  assert.equal(buyer0 - buyer1, PRICE)
  assert.equal(payTo1 - payTo0, PRICE)
  assert.equal(await settlerTxCount() - tx0, 1n)
  const rows = await ledger.list()
  assert.deepEqual(rows.map((r) => [r.offer, r.status]), [['default/weather', 'settled']])
})

test('a settlement owed by a replica that is killed mid-settlement is finished by the other replica, once', async () => {
  const [buyer0, payTo0] = await balances()
  const tx0 = await settlerTxCount()
  await chain.rpc('evm_setAutomine', [false])
  // replica A serves the request and sends its settlement transaction, which stays pending (no mining); then A dies
  const request = payingFetch(chain)(`${a.url}/services/weather/later`).then((r) => r.status, () => 'connection lost')
  const pending = await until(async () => (await ledger.list()).find((r) => r.resource?.includes('/later') && r.status === 'settling' && r.txHash))
  a.child.kill('SIGKILL')
  assert.equal(await request, 'connection lost')
  assert.equal(await chain.balanceOf(chain.buyer.address), buyer0, 'nothing settled yet')
  await chain.rpc('evm_setAutomine', [true])
  await chain.rpc('evm_mine')
  // replica B claims the row once A's lease has run out, finds A's transaction on chain and completes the row with it
  const settled = await until(async () => { const r = await ledger.get(pending.id); return r?.status === 'settled' ? r : undefined })
  // the recorded transaction is A's (possibly re-broadcast by A before it died: same nonce), mined and successful
  const receipt = await chain.rpc<{ status: string; from: string } | null>('eth_getTransactionReceipt', [settled.txHash])
  assert.equal(receipt?.status, '0x1', `settled with a successful transaction (A sent ${pending.txHash}, recorded ${settled.txHash})`)
  const [buyer1, payTo1] = await balances()
  assert.equal(buyer0 - buyer1, PRICE)
  assert.equal(payTo1 - payTo0, PRICE)
  assert.equal(await settlerTxCount() - tx0, 1n, 'exactly one settlement transaction was ever sent')
  assert.ok(!b.child.killed && b.child.exitCode === null, 'replica B is the one that finished it')
})
