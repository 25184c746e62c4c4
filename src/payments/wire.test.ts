import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentRequired, PaymentRequirements } from '@x402/core/types'
import type { V1Requirements } from '../gateway/createGateway.ts'
import { matchPayment } from './wire.ts'

const req: PaymentRequirements = {
  scheme: 'exact', network: 'eip155:84532', amount: '10000', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
  payTo: '0x90F79bf6EB2c4f870365E785982E1f101E93b906', maxTimeoutSeconds: 300, extra: { name: 'USDC', version: '2' },
}
const required: PaymentRequired = { x402Version: 2, resource: { url: 'http://127.0.0.1/x' }, accepts: [req] }
const v1: V1Requirements[] = [{
  scheme: 'exact', network: 'base-sepolia', maxAmountRequired: '10000', resource: 'http://127.0.0.1/x', description: 'd',
  mimeType: 'application/json', outputSchema: {}, payTo: req.payTo, maxTimeoutSeconds: 300, asset: req.asset, extra: req.extra,
}]
const auth = {
  from: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', to: req.payTo, value: '10000', validAfter: '0', validBefore: '1999999999',
  nonce: `0x${'12'.repeat(32)}`,
}
const payload = (over: Record<string, unknown> = {}, a: Record<string, unknown> = {}) =>
  ({ x402Version: 2, accepted: { ...req, ...over }, payload: { authorization: { ...auth, ...a }, signature: `0x${'ab'.repeat(65)}` } })
const v2 = (p: unknown) => ({ version: 2 as const, header: encodePaymentSignatureHeader(p as never) })
const v1h = (p: unknown) => ({ version: 1 as const, header: Buffer.from(JSON.stringify(p)).toString('base64') })
const reason = (r: ReturnType<typeof matchPayment>) => (r.ok ? 'ok' : r.refusal.reason)

test('a v2 payment matches its requirements; every mismatch has its own reason', () => {
  assert.equal(reason(matchPayment(v2(payload()), required, v1)), 'ok')
  assert.equal(reason(matchPayment({ version: 2, header: '!!' }, required, v1)), 'invalid_payload')
  assert.equal(reason(matchPayment(v2({ ...payload(), x402Version: 1 }), required, v1)), 'invalid_x402_version')
  assert.equal(reason(matchPayment(v2(payload({ scheme: 'upto' })), required, v1)), 'invalid_exact_evm_scheme')
  assert.equal(reason(matchPayment(v2(payload({ network: 'eip155:8453' })), required, v1)), 'invalid_exact_evm_network_mismatch')
  assert.equal(reason(matchPayment(v2(payload({ asset: '0x0000000000000000000000000000000000000001' })), required, v1)), 'invalid_exact_evm_asset_mismatch')
  assert.equal(reason(matchPayment(v2(payload({}, { to: '0x0000000000000000000000000000000000000001' })), required, v1)), 'invalid_exact_evm_recipient_mismatch')
  assert.equal(reason(matchPayment(v2(payload({}, { value: '9999' })), required, v1)), 'invalid_exact_evm_payload_authorization_value_mismatch')
  assert.equal(reason(matchPayment(v2(payload({ amount: '1' })), required, v1)), 'invalid_exact_evm_payload_authorization_value_mismatch')
  assert.equal(reason(matchPayment(v2(payload({}, { nonce: '0x12' })), required, v1)), 'invalid_payload')
})

test('a v1 payment is matched by its v1 network name and verified against the v1-shaped requirements', () => {
  const p = { x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload: { authorization: auth, signature: `0x${'ab'.repeat(65)}` } }
  const m = matchPayment(v1h(p), required, v1)
  assert.ok(m.ok)
  assert.equal(m.payment.version, 1)
  assert.equal(m.payment.accepted.network, 'eip155:84532')
  assert.equal((m.payment.requirements as unknown as V1Requirements).maxAmountRequired, '10000')
  assert.equal(reason(matchPayment(v1h({ ...p, network: 'base' }), required, v1)), 'invalid_exact_evm_network_mismatch')
})
