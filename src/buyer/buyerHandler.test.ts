/**
 * The buyer endpoints' local answers, through a real node:http server and a real SQLite ledger (no seller is
 * ever reached in these cases): model listing, unknown purchases, broken purchase files, a locked wallet.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BaseError } from '../errors/base.ts'
import { API_VERSION } from '../offer/schema.ts'
import { createSqliteLedger } from '../payments/ledger/sqliteLedger.ts'
import { openDatabase } from '../state/db.ts'
import { homePaths } from '../state/home.ts'
import { createBuyerHandler } from './buyerHandler.ts'
import { PURCHASE_KIND, type Purchase } from './purchaseSchema.ts'
import { readPurchaseStatus } from './purchaseStatus.ts'
import { purchaseFile, writePurchase } from './purchaseStore.ts'

const purchase = (name: string, model?: string): Purchase => ({
  apiVersion: API_VERSION, kind: PURCHASE_KIND, metadata: { name },
  spec: {
    seller: 'http://127.0.0.1:9', offer: 'default/chat', ...(model ? { model } : {}), endpoint: 'http://127.0.0.1:9/services/chat',
    budget: { total: '1', maxPerRequest: '0.01' },
    payment: { network: 'eip155:31337', asset: '0x5FbDB2315678afecb367f032d93F642f64180aa3', decimals: 6, symbol: 'USDC', payTo: '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc', price: '0.01' },
  },
})

async function withBuyer(fn: (base: string, paths: ReturnType<typeof homePaths>) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vend-buyer-unit-'))
  const paths = homePaths(root)
  const db = openDatabase(paths.db)
  const handler = createBuyerHandler({
    paths, db, ledger: createSqliteLedger(db),
    account: async () => { throw new BaseError('Set VEND_WALLET_PASSWORD for the daemon so it can unlock the stack wallet.', { hint: 'Then restart the stack.' }) },
  })
  const server = createServer((req, res) => {
    handler.handle(req, res, new URL(req.url ?? '/', 'http://127.0.0.1')).then((done) => { if (!done) res.writeHead(404).end('not buyer') })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths)
  } finally {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
    db.close()
    rmSync(root, { recursive: true, force: true })
  }
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

test('models, unknown purchases and broken files are answered locally in OpenAI\'s error shape', async () => {
  await withBuyer(async (base, paths) => {
    writePurchase(paths, purchase('chat', 'tiny'))
    writePurchase(paths, purchase('raw'))
    const models = await (await fetch(`${base}/buy/v1/models`)).json() as { data: { id: string }[] }
    assert.deepEqual(models.data.map((m) => m.id), ['chat/tiny', 'raw/default'])

    const unknown = await post(`${base}/buy/v1/chat/completions`, { model: 'nope/tiny', messages: [] })
    assert.equal(unknown.status, 404)
    assert.match((await unknown.json() as { error: { message: string } }).error.message, /no purchase named "nope"/)
    const noSlash = await post(`${base}/buy/v1/chat/completions`, { model: 'gpt-4o', messages: [] })
    assert.equal(noSlash.status, 404)
    const badJson = await fetch(`${base}/buy/v1/chat/completions`, { method: 'POST', body: '{' })
    assert.equal(badJson.status, 400)

    writeFileSync(purchaseFile(paths, 'broken'), 'apiVersion: vend.dev/v1alpha1\nkind: Purchase\nmetadata: {name: broken}\nspec: {}\n')
    const broken = await fetch(`${base}/buy/broken/x`)
    assert.equal(broken.status, 409)
    assert.match((await broken.json() as { message: string }).message, /purchases\/broken\.yaml: spec\.seller/)
    assert.equal((await fetch(`${base}/other`)).status, 404, 'other paths are left to the storefront')
  })
})

test('a locked stack wallet: 503 saying how to unlock it, counted as the purchase\'s last error, nothing spent', async () => {
  await withBuyer(async (base, paths) => {
    writePurchase(paths, purchase('chat', 'tiny'))
    const res = await post(`${base}/buy/v1/chat/completions`, { model: 'chat/tiny', messages: [{ role: 'user', content: 'hi' }] })
    assert.equal(res.status, 503)
    const body = await res.json() as { error: { code: string; message: string } }
    assert.equal(body.error.code, 'wallet_unavailable')
    assert.match(body.error.message, /VEND_WALLET_PASSWORD/)
    const s = await readPurchaseStatus(paths, purchase('chat', 'tiny'))
    assert.equal(s.spent.atomic, '0')
    assert.equal(s.requests, 1)
    assert.match(s.lastError ?? '', /wallet unavailable/)
  })
})

test('web pages cannot spend: requests with an Origin header or a non-loopback Host are refused before anything else', async () => {
  await withBuyer(async (base, paths) => {
    writePurchase(paths, purchase('chat', 'tiny'))
    const body = JSON.stringify({ model: 'chat/tiny', messages: [] })
    const fromPage = await fetch(`${base}/buy/v1/chat/completions`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'text/plain' }, body })
    assert.equal(fromPage.status, 403)
    assert.match((await fromPage.json() as { error: { message: string } }).error.message, /Origin header/)
    const port = new URL(base).port
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/buy/chat/x', headers: { host: `evil.example:${port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject).end()
    })
    assert.equal(rebound, 403)
    const s = await readPurchaseStatus(paths, purchase('chat', 'tiny'))
    assert.equal(s.requests, 0, 'refused before the purchase was looked at')
  })
})
