/**
 * Chaos: 500 paid requests through a real `vend stack up --dev` daemon while it is SIGKILLed at random points
 * and started again. Clients retry a request with the same payment header until they get an answer (as a real
 * client would after a dropped connection). Afterwards every settlement owed is given time to land, and the
 * ledger is reconciled with the chain: 0 lost, 0 double-charged, 0 served unpaid.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { decodePaymentSignatureHeader } from '@x402/core/http'
import Database from 'better-sqlite3'
import { presign } from '../../bench/lib/presign.ts'
import { readDevChain } from '../../src/devchain/devChain.ts'
import { homePaths } from '../../src/state/home.ts'
import { freePort, serve, stopDaemon, tempHome, vend, type TestServer } from '../helpers/vend.ts'
import { formatReport, reconcileLedgerWithChain } from './reconcileChain.ts'

const REQUESTS = 500
const CONCURRENCY = 8
/** Enough kills to land at every stage of a payment; bounded so the run stays well under 10 minutes. */
const MAX_KILLS = 8
const PAY_TO = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let home: { home: string; cleanup: () => void }
let upstream: TestServer
let port: number

before(async () => {
  home = tempHome('vend-chaos-')
  upstream = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'))
  port = await freePort()
})

after(async () => {
  if (home) {
    await stopDaemon(home.home)
    await vend(home.home, ['stack', 'purge', '--yes']).catch(() => undefined)
    home.cleanup()
  }
  await upstream?.close()
})

async function up(): Promise<void> {
  const r = await vend(home.home, ['stack', 'up', '--dev', '--listen', `127.0.0.1:${port}`])
  assert.equal(r.code, 0, `stack up: ${r.stderr}`)
}

function daemonPid(): number | undefined {
  try { return (JSON.parse(readFileSync(join(home.home, 'state', 'daemon.json'), 'utf8')) as { pid: number }).pid } catch { return undefined }
}

test('SIGKILL during paid load, restart, reconcile: 0 lost, 0 double-charged, 0 served unpaid', async () => {
  await up()
  const sold = await vend(home.home, ['sell', 'http', 'weather', '--upstream', upstream.url, '--price', '0.001', '--chain', 'local', '--pay-to', PAY_TO])
  assert.equal(sold.code, 0, sold.stderr)
  const chain = readDevChain(homePaths(home.home))!
  const url = `http://127.0.0.1:${port}/services/weather/today`
  const headers = await presign({ privateKey: chain.buyer.privateKey, caip2: chain.caip2, usdc: chain.usdc.address }, url, REQUESTS)
  const nonceOf = (h: string) => (decodePaymentSignatureHeader(h).payload as { authorization: { nonce: string } }).authorization.nonce

  const served: string[] = []
  const statuses = new Map<number | string, number>()
  let next = 0
  let attempts = 0
  let answered = 0
  let loadDone = false
  const worker = async () => {
    for (let i = next++; i < REQUESTS; i = next++) {
      for (;;) {
        attempts++
        const status = await fetch(url, { headers: { 'payment-signature': headers[i]! }, signal: AbortSignal.timeout(30_000) })
          .then(async (r) => { await r.arrayBuffer(); return r.status }, () => 'connection failed' as const)
        if (status === 'connection failed' || status === 503) { await sleep(100); continue } // daemon down or starting: same header again
        answered++
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        if (status >= 200 && status < 300) served.push(nonceOf(headers[i]!))
        break
      }
    }
  }

  // Kill points: random request counts across the whole load (independent of the machine's speed).
  const killAt = Array.from({ length: MAX_KILLS }, () => Math.floor(Math.random() * REQUESTS * 0.9)).sort((a, b) => a - b)
  let kills = 0
  const killer = (async () => {
    for (const at of killAt) {
      while (!loadDone && answered < at) await sleep(10)
      if (loadDone) break
      const pid = daemonPid()
      if (!pid) continue
      process.kill(pid, 'SIGKILL')
      kills++
      await sleep(Math.random() * 500)
      await up()
    }
  })()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  loadDone = true
  await killer

  // Owed settlements (rows left 'settling' by a kill) are retried by the restarted daemon's queue.
  const dbFile = join(home.home, 'state', 'vend.db')
  for (let i = 0; i < 300; i++) {
    const db = new Database(dbFile, { readonly: true })
    const open = (db.prepare("SELECT count(*) AS n FROM payments WHERE status IN ('verified','settling')").get() as { n: number }).n
    db.close()
    if (open === 0) break
    await sleep(200)
  }
  const report = await reconcileLedgerWithChain({ dbFiles: [dbFile], rpcUrl: chain.rpcUrl, usdc: chain.usdc.address, payTo: PAY_TO, payer: chain.buyer.address, servedNonces: served })
  console.log(formatReport('SIGKILL during paid load', report, {
    requests: REQUESTS, 'HTTP attempts (incl. retries)': attempts, 'daemon SIGKILLs': kills, 'answers by status': JSON.stringify(Object.fromEntries(statuses)),
  }))
  assert.ok(kills >= MAX_KILLS / 2, `the daemon was killed ${kills} times`)
  assert.ok(served.length > REQUESTS / 2, `${served.length} of ${REQUESTS} served`)
  assert.deepEqual(report.lost, [], 'lost')
  assert.deepEqual(report.doubleCharged, [], 'double-charged')
  assert.deepEqual(report.servedUnpaid, [], 'served unpaid')
})
