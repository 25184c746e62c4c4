/**
 * Paying an x402 v1 seller (402 JSON body, X-PAYMENT / X-PAYMENT-RESPONSE, network names) through callPurchase:
 * the seller is a real node:http server that checks the EIP-3009 signature with viem; no chain is needed because
 * this seller answers with its own receipt. The v2 path runs against real Vend sellers in test/buyer.e2e.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { authorizationTypes } from '@x402/evm'
import { verifyTypedData, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { API_VERSION } from '../offer/schema.ts'
import { findChain } from '../offer/networks.ts'
import { createSqliteLedger } from '../payments/ledger/sqliteLedger.ts'
import { openDatabase } from '../state/db.ts'
import { createBudgetBook } from './budget.ts'
import { callPurchase, ledgerOffer } from './payPurchase.ts'
import { chargedAmount } from '../payments/upto.ts'
import { PURCHASE_KIND, type Purchase } from './purchaseSchema.ts'

const BUYER = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const PAY_TO = '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc'
const USDC = findChain('base-sepolia')!.usdc!.address
const TX = `0x${'ab'.repeat(32)}`

type Auth = { from: Hex; to: Hex; value: string; validAfter: string; validBefore: string; nonce: Hex }

test('a v1 seller is paid with X-PAYMENT under the purchase budget; the receipt settles the ledger row', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-buyer-v1-'))
  const db = openDatabase(join(dir, 'vend.db'))
  const ledger = createSqliteLedger(db)
  const paid: Auth[] = []
  const seller = createServer((req, res) => {
    const header = req.headers['x-payment']
    if (typeof header !== 'string') {
      res.writeHead(402, { 'content-type': 'application/json' }).end(JSON.stringify({
        x402Version: 1, error: 'X-PAYMENT header is required',
        accepts: [{ scheme: 'exact', network: 'base-sepolia', maxAmountRequired: '10000', resource: `http://${req.headers.host}${req.url}`, description: 'v1 api',
          mimeType: 'application/json', outputSchema: {}, payTo: PAY_TO, maxTimeoutSeconds: 300, asset: USDC, extra: { name: 'USDC', version: '2' } }],
      }))
      return
    }
    const p = JSON.parse(Buffer.from(header, 'base64').toString()) as { x402Version: number; network: string; payload: { signature: Hex; authorization: Auth } }
    const a = p.payload.authorization
    void verifyTypedData({
      address: a.from, signature: p.payload.signature, types: authorizationTypes, primaryType: 'TransferWithAuthorization',
      domain: { name: 'USDC', version: '2', chainId: 84532, verifyingContract: USDC },
      message: { from: a.from, to: a.to, value: BigInt(a.value), validAfter: BigInt(a.validAfter), validBefore: BigInt(a.validBefore), nonce: a.nonce },
    }).then((valid) => {
      assert.ok(valid && p.x402Version === 1 && p.network === 'base-sepolia' && a.to === PAY_TO && a.value === '10000')
      paid.push(a)
      const receipt = Buffer.from(JSON.stringify({ success: true, transaction: TX, network: 'base-sepolia', payer: a.from })).toString('base64')
      res.writeHead(200, { 'content-type': 'application/json', 'x-payment-response': receipt }).end('{"ok":true}')
    })
  })
  await new Promise<void>((r) => seller.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(seller.address() as AddressInfo).port}/api/thing`
  const purchase: Purchase = {
    apiVersion: API_VERSION, kind: PURCHASE_KIND, metadata: { name: 'v1' },
    spec: {
      seller: url, offer: 'default/thing', endpoint: url, budget: { total: '0.015', maxPerRequest: '0.01' },
      payment: { network: 'eip155:84532', asset: USDC, decimals: 6, symbol: 'USDC', payTo: PAY_TO, price: '0.01' },
    },
  }
  const deps = { ledger, book: createBudgetBook((k) => ledger.list({ offer: k })), account: BUYER }
  try {
    const first = await callPurchase(purchase, { url, method: 'GET', headers: {} }, deps)
    assert.ok(first.ok)
    assert.equal(first.paid, 10000n)
    assert.equal(await first.response.text(), '{"ok":true}')
    const [row] = await ledger.list({ offer: ledgerOffer('v1') })
    assert.equal(row?.direction, 'spent')
    assert.equal(row?.status, 'settled')
    assert.equal(row?.txHash, TX)
    assert.equal(row?.network, 'eip155:84532')
    assert.equal(row?.x402Version, 1)

    const second = await callPurchase(purchase, { url, method: 'GET', headers: {} }, deps)
    assert.ok(!second.ok)
    assert.equal(second.refusal.code, 'budget_total_exceeded')
    assert.match(second.refusal.message, /used 0\.01 USDC of its 0\.015 USDC total budget/)
    assert.equal(paid.length, 1, 'the refused request signed nothing')
  } finally {
    seller.closeAllConnections()
    await new Promise<void>((r) => seller.close(() => r()))
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the amount a receipt charges: upto\'s amount up to the maximum; the maximum for exact and for an unreadable upto amount', () => {
  assert.equal(chargedAmount('upto', '700', 7500n), 700n)
  assert.equal(chargedAmount('upto', '0', 7500n), 0n)
  assert.equal(chargedAmount('upto', '9000', 7500n), 7500n, 'never more than was authorised')
  for (const bad of [undefined, '', '-1', '1e3', 700, '0x10']) assert.equal(chargedAmount('upto', bad, 7500n), 7500n, String(bad))
  assert.equal(chargedAmount('exact', '700', 7500n), 7500n, 'exact moves the whole authorisation')
})
