import { test } from 'node:test'
import assert from 'node:assert/strict'
import { API_VERSION } from '../offer/schema.ts'
import { priceUnit, Purchase, PURCHASE_KIND } from './purchaseSchema.ts'

const file = (payment: Record<string, unknown>) => ({
  apiVersion: API_VERSION, kind: PURCHASE_KIND, metadata: { name: 'llm' },
  spec: {
    seller: 'http://127.0.0.1:1', offer: 'default/llm', endpoint: 'http://127.0.0.1:1/services/llm', budget: { total: '1', maxPerRequest: '0.1' },
    payment: { network: 'eip155:31337', asset: `0x${'a'.repeat(40)}`, decimals: 6, payTo: `0x${'b'.repeat(40)}`, price: '0.01', ...payment },
  },
})

test('a purchase file without a price unit (written before per-token purchases) is per request', () => {
  const p = Purchase.parse(file({}))
  assert.equal(priceUnit(p), 'perRequest')
  assert.equal('unit' in p.spec.payment, false, 'nothing is added to the file when it is written again')
  assert.equal(priceUnit(Purchase.parse(file({ unit: 'perMTok', price: '100', maxTokens: 200 }))), 'perMTok')
})

test('a price unit other than perRequest/perMTok, or maxTokens on a per-request purchase, is refused with the field', () => {
  const unit = Purchase.safeParse(file({ unit: 'perToken' }))
  assert.ok(!unit.success && unit.error.issues[0]!.path.join('.') === 'spec.payment.unit')
  const max = Purchase.safeParse(file({ maxTokens: 200 }))
  assert.ok(!max.success)
  assert.equal(max.error.issues[0]!.path.join('.'), 'spec.payment.maxTokens')
  assert.match(max.error.issues[0]!.message, /only to unit perMTok/)
})
