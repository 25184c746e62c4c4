/**
 * The operator dashboard in a real headless Chromium (Debian's, through playwright-core) on a real daemon joined to
 * a throwaway anvil dev chain: three real payments with the official @x402/fetch client, settled on chain by the
 * local facilitator, then the page shows the offers with their conditions, earnings equal to what was paid, the
 * payments with their transaction hashes and a chart whose buckets carry those requests and that revenue.
 * Screenshots go to test-artifacts/. Skipped when no Chromium is installed (the test runner installs it when it can).
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { decodePaymentResponseHeader } from '@x402/core/http'
import { type Browser, type Page } from 'playwright-core'
import { browserSkip, launchBrowser } from './helpers/browser.ts'
import type { DashboardSummary } from '../src/dashboard/summary.ts'
import { startDaemon, type Daemon } from '../src/engine/daemon.ts'
import { eventually, putOffer, startUpstream, type Upstream } from '../src/engine/testkit.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { payingFetch } from '../src/payments/testStack.ts'
import { homePaths } from '../src/state/home.ts'
import { StackConfig, writeStackConfig } from '../src/state/stackConfig.ts'

const ARTIFACTS = new URL('../test-artifacts/', import.meta.url).pathname
const skip = browserSkip

let root: string
let chain: TestChain
let upstream: Upstream
let daemon: Daemon
let browser: Browser
/** Transaction hashes from the PAYMENT-RESPONSE receipts, per offer. */
const paid: { offer: string; tx: string; amount: bigint }[] = []

before(async () => {
  if (skip) return
  mkdirSync(ARTIFACTS, { recursive: true })
  root = mkdtempSync(join(tmpdir(), 'vend-dash-browser-'))
  const paths = homePaths(root)
  chain = await startTestChain({ buyerFunds: 10_000_000n })
  upstream = await startUpstream()
  writeStackConfig(paths, StackConfig.parse({ listen: '127.0.0.1:0', dev: { enabled: true, join: chain.rpcUrl } }))
  const payment = (price: string) => ({ payment: { network: 'local', payTo: chain.payTo.address, price: { perRequest: price } } })
  putOffer(paths, 'weather', 'default', upstream.url, payment('0.01'))
  putOffer(paths, 'reports', 'acme', upstream.url, payment('0.25'))
  // Nothing listens on port 9: this offer is not ready, and the dashboard says why.
  putOffer(paths, 'broken', 'default', 'http://127.0.0.1:9', payment('1'))
  daemon = await startDaemon(paths)
  browser = await launchBrowser()

  const pay = payingFetch(chain)
  for (const [offer, path, amount] of [['default/weather', '/services/weather/today', 10_000n], ['acme/reports', '/services/reports/q3', 250_000n], ['default/weather', '/services/weather/tomorrow', 10_000n]] as const) {
    const res = await eventually(`a paid ${path}`, async () => {
      const r = await pay(`${daemon.url}${path}`)
      await r.arrayBuffer()
      return r.status === 200 && r
    })
    const receipt = decodePaymentResponseHeader(res.headers.get('payment-response')!)
    assert.equal(receipt.success, true)
    paid.push({ offer, tx: receipt.transaction, amount })
  }
})

after(async () => {
  await browser?.close()
  await daemon?.stop()
  await upstream?.close()
  await chain?.stop()
  if (root) rmSync(root, { recursive: true, force: true })
})

async function open(width = 1280): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width, height: 900 } })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  return { page, problems }
}

test('dashboard: offers with conditions, earnings equal to the payments, their transactions, and the chart', { skip }, async () => {
  // The settlements are on chain once the receipts came back; the ledger says so too.
  const summary = await eventually('three settled payments in the summary', async () => {
    const s = await (await fetch(`${daemon.url}/dashboard/api/summary?range=1h`)).json() as DashboardSummary
    return s.totals[0]?.settled.count === 3 && s
  })
  assert.equal(await chain.balanceOf(chain.payTo.address), 270_000n)
  assert.equal(summary.totals[0]!.settled.atomic, '270000')

  const { page, problems } = await open()
  const res = await page.goto(`${daemon.url}/dashboard?range=1h`)
  assert.equal(res?.status(), 200)
  assert.equal(res?.headers()['cache-control'], 'no-store')
  assert.match(await page.textContent('h1') ?? '', /operator dashboard/)

  // Offers, their state and conditions (with the reason of the one that is not ready), earnings per offer.
  const weather = page.locator('tr[data-offer="default/weather"]')
  assert.equal((await weather.locator('td.earned').textContent())?.trim(), '0.02 USDC (2)')
  assert.match(await weather.textContent() ?? '', /0\.01 USDC per request/)
  assert.equal(await weather.locator('.badge').textContent(), 'ready')
  assert.equal((await page.locator('tr[data-offer="acme/reports"] td.earned').textContent())?.trim(), '0.25 USDC (1)')
  const broken = page.locator('tr[data-offer="default/broken"]')
  assert.equal(await broken.locator('.badge').textContent(), 'not ready')
  assert.equal(await broken.locator('[data-condition="UpstreamHealthy"]').getAttribute('data-status'), 'False')
  assert.match(await broken.locator('.reasons').textContent() ?? '', /UpstreamHealthy/)
  assert.equal((await broken.locator('td.earned').textContent())?.trim(), '—')

  // Totals: what was paid, exactly.
  assert.equal((await page.locator('#kpi-settled .value').textContent())?.trim(), '0.27 USDC')
  assert.equal((await page.locator('#kpi-requests .value').textContent())?.trim(), '3')

  // Recent payments with their transaction hashes (the dev chain has no explorer: no link).
  const txs = await page.locator('#payments [data-tx]').evaluateAll((els) => els.map((el) => el.getAttribute('data-tx')))
  assert.deepEqual(txs.sort(), paid.map((p) => p.tx).sort())
  assert.equal(await page.locator('#payments a.tx').count(), 0)
  assert.deepEqual(await page.locator('#payments td.amount').allTextContents(), ['0.01 USDC', '0.25 USDC', '0.01 USDC'])

  // The chart: 60 one-minute buckets whose data carry exactly those requests and that revenue, drawn as bars and points.
  const buckets = await page.locator('svg.chart g.bucket').evaluateAll((els) => els.map((el) => ({
    requests: Number(el.getAttribute('data-requests')), revenue: el.getAttribute('data-revenue-atomic') ?? '0', bar: el.querySelector('rect.bar') !== null, point: el.querySelector('circle.pt') !== null,
  })))
  assert.equal(buckets.length, 60)
  assert.equal(buckets.reduce((n, b) => n + b.requests, 0), 3)
  assert.equal(buckets.reduce((n, b) => n + BigInt(b.revenue), 0n), paid.reduce((n, p) => n + p.amount, 0n))
  for (const b of buckets) {
    assert.equal(b.bar, b.requests > 0)
    assert.equal(b.point, b.revenue !== '0')
  }
  assert.ok(await page.locator('svg.chart rect.bar').first().isVisible())

  await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true })
  await page.goto(`${daemon.url}/dashboard`)
  assert.equal(await page.locator('svg.chart g.bucket').count(), 24, 'the default range is 24 hours per hour')
  assert.deepEqual(problems, [])
  await page.context().close()
})

test('dashboard on a phone-sized screen: no horizontal scrolling of the page', { skip }, async () => {
  const { page, problems } = await open(390)
  await page.goto(`${daemon.url}/dashboard?range=1h`)
  const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as number
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`)
  await page.screenshot({ path: `${ARTIFACTS}dashboard-mobile.png`, fullPage: true })
  assert.deepEqual(problems, [])
  await page.context().close()
})

test('the daemon refuses the dashboard to a request forwarded by a proxy on this machine', { skip }, async () => {
  const status = await new Promise<number>((resolve, reject) => {
    http.get(`${daemon.url}/dashboard`, { headers: { 'x-forwarded-for': '203.0.113.9' }, agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
  })
  assert.equal(status, 403)
})
