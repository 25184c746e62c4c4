/**
 * Crash between verify and settle: the daemon is SIGKILLed while its settlement transaction is pending (anvil
 * automine off holds it there). After a restart the payment is settled from the queue with that same transaction;
 * nothing is sent or settled twice.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import Database from 'better-sqlite3'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { payingFetch, startUpstream, until, type Upstream } from '../src/payments/testStack.ts'

let chain: TestChain
let upstream: Upstream
let dir: string
const children = new Set<ChildProcess>()

before(async () => {
  chain = await startTestChain()
  upstream = await startUpstream({})
  dir = mkdtempSync(join(tmpdir(), 'vend-crash-'))
})

after(async () => {
  for (const c of children) c.kill('SIGKILL')
  await upstream?.close()
  await chain?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function startDaemon(): Promise<{ child: ChildProcess; url: string }> {
  const env = { ...process.env, VEND_TEST_DAEMON: JSON.stringify({ dir, upstreamUrl: upstream.url, chain: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, caip2: chain.caip2, usdc: chain.usdc, settler: chain.settler, payTo: chain.payTo } }) }
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../src/payments/testDaemon.ts', import.meta.url).pathname], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  const url = await new Promise<string>((resolve, reject) => {
    let buf = ''
    child.stdout!.on('data', (d) => { buf += d; const m = /READY (\S+)/.exec(buf); if (m) resolve(m[1]!) })
    child.once('exit', (code) => reject(new Error(`test daemon exited ${code}: ${buf}`)))
  })
  return { child, url }
}

type Row = { status: string; tx_hash: string | null; error: string | null }
function ledgerRows(): Row[] {
  const db = new Database(join(dir, 'vend.db'), { readonly: true, fileMustExist: true })
  try { return db.prepare('SELECT status, tx_hash, error FROM payments ORDER BY id').all() as Row[] } finally { db.close() }
}

test('SIGKILL while the settlement is pending: settled after restart with the same transaction, once', async () => {
  const first = await startDaemon()
  const buyer0 = await chain.balanceOf(chain.buyer.address)
  const payTo0 = await chain.balanceOf(chain.payTo.address)
  await chain.rpc('evm_setAutomine', [false])

  const request = payingFetch(chain)(`${first.url}/services/weather/today`).then((r) => r.status, () => 'connection lost')
  const pending = await until(async () => { const r = ledgerRows()[0]; return r?.status === 'settling' && r.tx_hash ? r : undefined })
  // the hash is recorded before the broadcast (so a crash in between is recoverable): wait for the mempool
  assert.ok(await until(async () => (await chain.rpc('eth_getTransactionByHash', [pending.tx_hash])) ?? undefined), 'the settlement transaction is in the mempool')
  assert.equal(await chain.rpc('eth_getTransactionReceipt', [pending.tx_hash]), null)

  first.child.kill('SIGKILL')
  assert.equal(await request, 'connection lost')
  assert.equal(await chain.balanceOf(chain.buyer.address), buyer0)

  const second = await startDaemon()
  await chain.rpc('evm_setAutomine', [true])
  await chain.rpc('evm_mine')
  const settled = await until(async () => { const r = ledgerRows()[0]; return r?.status === 'settled' ? r : undefined })
  assert.equal(settled.tx_hash, pending.tx_hash)
  assert.equal(buyer0 - await chain.balanceOf(chain.buyer.address), 10_000n)
  assert.equal(await chain.balanceOf(chain.payTo.address) - payTo0, 10_000n)
  assert.equal(BigInt(await chain.rpc<string>('eth_getTransactionCount', [chain.settler.address, 'latest'])), 1n, 'exactly one settlement transaction was ever sent')
  second.child.kill('SIGTERM')
})
