/**
 * The storefront and the HTML 402 page in a real headless Chromium (Debian's, through playwright-core):
 * visible text, escaping, the copy buttons under the page's CSP, screenshots into test-artifacts/.
 * Skipped when no Chromium is installed (the test runner installs it when it can).
 */
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { type Browser, type Page } from 'playwright-core'
import { browserSkip, launchBrowser } from '../../test/helpers/browser.ts'
import type { Gateway } from '../gateway/createGateway.ts'
import { FULL, startGatewayWithStorefront } from './testing/catalog.ts'

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname
const skip = browserSkip

let browser: Browser
let gw: Gateway
let base: string
before(async () => {
  if (skip) return
  mkdirSync(ARTIFACTS, { recursive: true })
  ;({ base, gateway: gw } = await startGatewayWithStorefront(FULL))
  browser = await launchBrowser()
})
after(async () => {
  if (skip) return
  await browser?.close()
  await gw?.stop(100)
})

/** A page that records script dialogs and console errors (a CSP violation would show up there). */
async function open(width = 1280): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width, height: 900 } })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss() })
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  return { page, problems }
}

test('storefront page: cards with exact prices, badges, escaped descriptions and working copy buttons', { skip }, async () => {
  const { page, problems } = await open()
  const res = await page.goto(`${base}/`)
  assert.equal(res?.status(), 200)
  assert.equal(await page.textContent('h1'), 'Vend')
  const weather = page.locator('#default-weather')
  assert.equal(await weather.locator('h2').textContent(), 'weather')
  assert.equal(await weather.locator('.price strong').textContent(), '0.000001 USDC')
  assert.equal(await weather.locator('.desc').textContent(), "Forecasts <script>alert('xss')</script> & more")
  assert.ok(await weather.getByText('registration pending').isVisible())
  assert.equal(await page.locator('#default-tiny .price strong').textContent(), '0.000000000000000001 OBOL')
  assert.equal(await page.locator('#acme-reports .price strong').textContent(), '12.5 USDC')
  assert.ok(await page.locator('#acme-reports').getByText('draining until 2026-11-23T13:00:00.000Z').isVisible())
  assert.equal(await page.locator('#ai-qwen .price span').textContent(), 'per million tokens')
  assert.ok(await page.locator('#ai-qwen').getByText('ERC-8004 agent #7').isVisible())
  assert.equal(await page.locator('.card').count(), 4)

  await weather.locator('button[data-copy]').first().click()
  await weather.getByText('Copied').waitFor()
  assert.equal(await page.evaluate('navigator.clipboard.readText()'), `curl -i ${base}/services/weather`)

  await page.screenshot({ path: `${ARTIFACTS}storefront.png`, fullPage: true })
  assert.deepEqual(problems, [])
  await page.context().close()
})

test('storefront page on a phone-sized screen', { skip }, async () => {
  const { page, problems } = await open(390)
  await page.goto(`${base}/`)
  const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as number
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`)
  await page.screenshot({ path: `${ARTIFACTS}storefront-mobile.png`, fullPage: true })
  assert.deepEqual(problems, [])
  await page.context().close()
})

test('402 page: a browser opening a paid URL sees the price, network, payTo and the ways to pay', { skip }, async () => {
  const { page, problems } = await open(1000)
  const res = await page.goto(`${base}/services/weather`)
  assert.equal(res?.status(), 402)
  assert.equal(await page.textContent('.amount'), '0.000001 USDC')
  assert.equal(await page.textContent('.status'), '402 · Payment required')
  assert.ok(await page.getByText('0x70997970C51812dc3A010C7d01b50e0d17dc79C8').isVisible())
  assert.ok(await page.getByText('eip155:84532').first().isVisible())
  assert.equal(await page.textContent('#pay-vend'), `vend pay ${base}/services/weather`)
  assert.equal(await page.textContent('#pay-curl'), `curl -i ${base}/services/weather`)
  assert.match((await page.textContent('#pay-js')) ?? '', /wrapFetchWithPayment\(fetch, client\)/)
  await page.locator('button[data-copy="pay-vend"]').click()
  await page.getByText('Copied').waitFor()
  assert.equal(await page.evaluate('navigator.clipboard.readText()'), `vend pay ${base}/services/weather`)
  await page.screenshot({ path: `${ARTIFACTS}payment-page.png`, fullPage: true })

  await page.goto(`${base}/services/tiny`)
  assert.equal(await page.textContent('.amount'), '0.000000000000000001 OBOL')
  // inference is priced from the request body, so its 402 page answers a POSTed chat request
  const llm = await page.request.post(`${base}/services/qwen/v1/chat/completions`, {
    headers: { accept: 'text/html', 'content-type': 'application/json' },
    data: { model: 'qwen3:0.6b', messages: [{ role: 'user', content: 'hi' }] },
  })
  assert.equal(llm.status(), 402)
  await page.setContent(await llm.text())
  assert.match((await page.textContent('.amount')) ?? '', /^0\.001\d* USDC$/)
  await page.screenshot({ path: `${ARTIFACTS}payment-page-inference.png`, fullPage: true })
  assert.deepEqual(problems.filter((p) => !/status of 402/.test(p)), [])
  await page.context().close()
})
