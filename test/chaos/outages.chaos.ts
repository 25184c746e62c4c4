/**
 * Chaos: one dependency fails at a time, each with its expected outcome, then recovers:
 * facilitator, upstream, chain RPC, a full disk under the ledger, a truncated offer file, clocks skewed by minutes.
 * Money rule throughout: a client that was not served was not charged, and nothing was served unpaid (the ledger
 * is reconciled with the chain at the end of each paid scenario).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { decodePaymentRequiredHeader, decodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { rawRequest } from '../../src/gateway/testKit.ts'
import { startDaemon } from '../../src/engine/daemon.ts'
import { putOffer, startUpstream as startEngineUpstream, tempHome } from '../../src/engine/testkit.ts'
import { createLocalFacilitator } from '../../src/payments/facilitators/local.ts'
import { startTestChain, type TestChain } from '../../src/payments/testChain.ts'
import { paidOffer, serveFacilitator, signedHeader, startPaidStack, type PaidStack } from '../../src/payments/testStack.ts'
import { formatReport, reconcileLedgerWithChain } from './reconcileChain.ts'

/** A TCP pass-through to `target` that can be cut (every connection dropped, new ones refused) and restored. */
async function cuttable(target: string): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<net.Socket>()
  let down = false
  const server = net.createServer((client) => {
    if (down) { client.destroy(); return }
    const up = net.connect(Number(port), hostname)
    sockets.add(client).add(up)
    client.pipe(up).pipe(client)
    const drop = () => { client.destroy(); up.destroy(); sockets.delete(client); sockets.delete(up) }
    client.on('error', drop).on('close', drop)
    up.on('error', drop).on('close', drop)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() { down = true; for (const s of sockets) s.destroy(); sockets.clear() },
    restore() { down = false },
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()) }),
  }
}

/** An upstream counting hits, behind a cuttable connection. */
async function countingUpstream() {
  const hits = { n: 0 }
  const http = await import('node:http')
  const srv = http.createServer((_req, res) => { hits.n++; res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}') })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const link = await cuttable(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`)
  return { hits, link, close: async () => { await link.close(); srv.closeAllConnections(); await new Promise((r) => srv.close(r)) } }
}

describe('paid stack with failing dependencies', () => {
  let chain: TestChain
  let rpc: Awaited<ReturnType<typeof cuttable>>
  let upstream: Awaited<ReturnType<typeof countingUpstream>>
  let stack: PaidStack
  let url: string
  let req: PaymentRequirements
  const served: string[] = []
  /** The facilitator-outage stack's ledger (a second seller paid to the same payTo): reconciled too. */
  const remoteDir = mkdtempSync(join(tmpdir(), 'vend-chaos-remote-'))

  before(async () => {
    chain = await startTestChain({ buyerFunds: 1_000_000_000n })
    rpc = await cuttable(chain.rpcUrl)
    upstream = await countingUpstream()
    // The stack reaches the chain only through the cuttable link; the test reads the chain directly.
    stack = await startPaidStack({ chain: { ...chain, rpcUrl: rpc.url }, offers: [paidOffer(chain, { name: 'weather', upstreamUrl: upstream.link.url, timeoutSeconds: 5 })] })
    url = `${stack.gateway.url}/services/weather/today`
    req = decodePaymentRequiredHeader(String((await rawRequest(url)).headers['payment-required'])).accepts[0]!
  })
  after(async () => {
    await stack?.stop()
    await upstream?.close()
    await rpc?.close()
    await chain?.stop()
    rmSync(remoteDir, { recursive: true, force: true })
  })

  /** One paid request with a fresh authorisation; remembers it when served. */
  async function pay(over: Parameters<typeof signedHeader>[2] = {}): Promise<{ status: number; body: string }> {
    const header = await signedHeader(chain, req, over)
    const r = await rawRequest(url, { headers: { 'payment-signature': header } })
    if (r.status >= 200 && r.status < 300) served.push((decodePaymentSignatureHeader(header).payload as { authorization: { nonce: string } }).authorization.nonce)
    return { status: r.status, body: r.body }
  }

  async function unchanged<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const before = await chain.balanceOf(chain.payTo.address)
    const out = await fn()
    assert.equal(await chain.balanceOf(chain.payTo.address), before, `${what}: money moved`)
    return out
  }

  test('upstream outage: 502, not charged; served and charged again once it is back', async () => {
    assert.equal((await pay()).status, 200)
    upstream.link.cut()
    const r = await unchanged('upstream down', () => pay())
    assert.ok(r.status === 502 || r.status === 504, `${r.status} ${r.body}`)
    upstream.link.restore()
    assert.equal((await pay()).status, 200)
  })

  test('RPC outage: refused (no 2xx), nothing served or charged; works again after the RPC returns', async () => {
    const hits = upstream.hits.n
    rpc.cut()
    const r = await unchanged('RPC down', () => pay())
    assert.ok(r.status === 503 || r.status === 402, `${r.status} ${r.body}`)
    if (r.status === 503) assert.equal(upstream.hits.n, hits, 'the upstream is not called when the payment cannot be checked')
    rpc.restore()
    let ok = 0
    for (let i = 0; i < 50 && ok === 0; i++) { if ((await pay()).status === 200) ok++; else await new Promise((res) => setTimeout(res, 200)) }
    assert.equal(ok, 1, 'payments work again after the RPC comes back')
  })

  test('full disk under the ledger (SQLite max_page_count reached): refused, not served, not charged; recovers', async () => {
    const hits = upstream.hits.n
    // The disk is full: no new page can be allocated, and the ledger's own pages have no room left (filled with
    // throwaway 'spent' rows, removed afterwards), so the next payment record fails with SQLITE_FULL.
    stack.db.pragma(`max_page_count = ${stack.db.pragma('page_count', { simple: true }) as number}`)
    const filler = stack.db.prepare(`INSERT INTO payments (direction, offer, network, asset, payer, pay_to, nonce, amount, status, valid_before, x402_version,
      payload, requirements, facilitator, created_at, updated_at) VALUES ('spent', 'chaos/filler', 'x', 'x', 'x', 'x', ?, '0', 'failed', 0, 2, ?, '', 'x', '', '')`)
    let fillers = 0
    for (const size of [2000, 200, 20, 1]) {
      try { for (;;) { filler.run(`filler-${fillers++}`, 'x'.repeat(size)) } } catch (err) { assert.match(String(err), /full/i) }
    }
    let r: { status: number; body: string }
    const payTo0 = await chain.balanceOf(chain.payTo.address)
    try {
      r = await pay()
    } finally {
      stack.db.pragma('max_page_count = 1073741823')
      stack.db.prepare("DELETE FROM payments WHERE offer = 'chaos/filler'").run()
    }
    const moved = await chain.balanceOf(chain.payTo.address) - payTo0
    const last = (await stack.rows()).at(-1)
    assert.ok(r.status >= 500 || r.status === 402, `${r.status} ${r.body}`)
    assert.equal(upstream.hits.n, hits, 'nothing is served when the payment cannot be recorded')
    assert.equal(moved, 0n, `the client got ${r.status} ${r.body.slice(0, 200)}, yet ${moved} moved to payTo; its ledger row: ${last?.status} ${last?.txHash} ${last?.error}`)
    assert.equal((await pay()).status, 200)
  })

  test('clocks skewed by minutes: a buyer 10 min ahead or behind is refused (402), 2 min behind is fine; a chain 10 min ahead fails settlement without serving', async () => {
    const now = Math.floor(Date.now() / 1000)
    const ahead = await unchanged('buyer ahead', () => pay({ validAfter: String(now + 600), validBefore: String(now + 900) }))
    assert.equal(ahead.status, 402)
    assert.match(ahead.body, /valid_after/)
    const behind = await unchanged('buyer behind', () => pay({ validAfter: String(now - 900), validBefore: String(now - 300) }))
    assert.equal(behind.status, 402)
    assert.match(behind.body, /valid_before/)
    assert.equal((await pay({ validAfter: String(now - 720), validBefore: String(now + 180) })).status, 200)

    // The chain's clock runs 10 minutes ahead of ours: an authorisation valid for 5 more minutes here is expired there.
    await chain.rpc('evm_increaseTime', [600])
    await chain.rpc('evm_mine')
    const hits = upstream.hits.n
    const skewed = await unchanged('chain ahead', () => pay({ validBefore: String(now + 300) }))
    assert.notEqual(skewed.status, 200, `served although the chain refuses the authorisation: ${skewed.body}`)
    assert.ok(upstream.hits.n <= hits + 1)
  })

  test('facilitator outage (remote facilitator over HTTP): 503 with Retry-After, upstream untouched; recovers without a restart', async () => {
    const local = createLocalFacilitator({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: chain.other.privateKey })
    await chain.rpc('anvil_setBalance', [chain.other.address, '0x56BC75E2D63100000'])
    const first = await serveFacilitator(local)
    const port = first.port
    const remote = await startPaidStack({ chain, localChain: false, dir: remoteDir, config: { facilitators: [{ network: 'local', url: first.url }] }, offers: [paidOffer(chain, { name: 'weather', upstreamUrl: upstream.link.url })] })
    try {
      const rurl = `${remote.gateway.url}/services/weather/today`
      const rreq = decodePaymentRequiredHeader(String((await rawRequest(rurl)).headers['payment-required'])).accepts[0]!
      const payRemote = async () => {
        const h = await signedHeader(chain, rreq, { validBefore: String(Math.floor(Date.now() / 1000) + 3600) })
        const r = await rawRequest(rurl, { headers: { 'payment-signature': h } })
        if (r.status === 200) served.push((decodePaymentSignatureHeader(h).payload as { authorization: { nonce: string } }).authorization.nonce)
        return r
      }
      assert.equal((await payRemote()).status, 200)
      await first.close()
      const hits = upstream.hits.n
      const down = await unchanged('facilitator down', payRemote)
      assert.equal(down.status, 503, down.body)
      assert.ok(down.headers['retry-after'])
      assert.equal(upstream.hits.n, hits)
      const second = await serveFacilitator(local, port)
      try {
        assert.equal((await payRemote()).status, 200)
      } finally { await second.close() }
    } finally {
      await remote.stop()
      await local.close()
    }
  })

  test('reconciliation after all of the above: 0 lost, 0 double-charged, 0 served unpaid', async () => {
    await new Promise((r) => setTimeout(r, 1500)) // let owed settlements land
    const report = await reconcileLedgerWithChain({ dbFiles: [join(stack.dir, 'vend.db'), join(remoteDir, 'vend.db')], rpcUrl: chain.rpcUrl, usdc: chain.usdc.address, payTo: chain.payTo.address, payer: chain.buyer.address, servedNonces: served })
    console.log(formatReport('outages (upstream, RPC, full disk, clock skew)', report))
    assert.deepEqual(report.lost, [])
    assert.deepEqual(report.doubleCharged, [])
    assert.deepEqual(report.servedUnpaid, [])
  })
})

test('a truncated offer file: reported with its file name, its route withdrawn; the daemon and the other offers keep serving', async () => {
  const home = tempHome('vend-chaos-trunc-')
  const up = await startEngineUpstream()
  const daemon = await startDaemon(home.paths)
  try {
    putOffer(home.paths, 'good', 'default', up.url)
    putOffer(home.paths, 'victim', 'default', up.url)
    await daemon.reconcile()
    assert.equal((await rawRequest(`${daemon.url}/services/good/x`)).status, 402)
    assert.equal((await rawRequest(`${daemon.url}/services/victim/x`)).status, 402)
    const file = join(home.paths.offersDir, 'default', 'victim.yaml')
    const text = readFileSync(file, 'utf8')
    writeFileSync(file, text.slice(0, Math.floor(text.length * 0.4)))
    await daemon.reconcile()
    const status = daemon.status()
    assert.ok(status.problems?.some((p) => p.file.endsWith('victim.yaml')), `problems: ${JSON.stringify(status.problems)}`)
    assert.equal((await rawRequest(`${daemon.url}/services/good/x`)).status, 402, 'the other offer still serves')
    const victim = await rawRequest(`${daemon.url}/services/victim/x`)
    assert.equal(victim.status, 404, 'the broken offer\'s route is withdrawn (never served without its payment terms)')
  } finally {
    await daemon.stop()
    await up.close()
    home.cleanup()
  }
})
