import assert from 'node:assert/strict'
import { test } from 'node:test'
import { secp256k1 } from '@noble/curves/secp256k1'
import { authorizationTypes, eip3009ABI, PERMIT2_ADDRESS, uptoPermit2WitnessTypes } from '@x402/evm'
import { encodeFunctionData, hashTypedData, keccak256, parseSignature, toHex, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { js, keccak256Bytes, nativeCrypto, recoverPublicKey, signLegacyTransaction } from './nativeCrypto.ts'
import { authorizationDigest, signedBy, transferWithAuthorizationData, uptoPermitDigest } from './signatures.ts'

const buyer = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const other = privateKeyToAccount('0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a')
const digest = (i: number) => keccak256(toHex(`authorization ${i}`))
const flipV = (sig: Hex): Hex => `${sig.slice(0, 130)}${sig.endsWith('1b') ? '1c' : '1b'}` as Hex
const highS = (sig: Hex): Hex => {
  const s = secp256k1.CURVE.n - BigInt(`0x${sig.slice(66, 130)}`)
  return `${sig.slice(0, 66)}${s.toString(16).padStart(64, '0')}${sig.endsWith('1b') ? '1c' : '1b'}` as Hex
}

test('the native secp256k1 and keccak prebuilds load on this platform', () => {
  assert.equal(nativeCrypto, true, 'secp256k1/keccak native bindings did not load: payments fall back to pure JS')
})

test('signatures are accepted exactly as ecrecover would', async () => {
  const check = { signedBy }
  for (const round of ['first', 'second']) {
    const i = round === 'first' ? 1 : 2
    const sig = await buyer.sign({ hash: digest(i) })
    assert.equal(check.signedBy(digest(i), sig, buyer.address), true, round)
    assert.equal(check.signedBy(digest(i + 10), sig, buyer.address), false, `${round}: other digest`)
    assert.equal(check.signedBy(digest(i), flipV(sig), buyer.address), false, `${round}: wrong v`)
    assert.equal(check.signedBy(digest(i), highS(sig), buyer.address), false, `${round}: high s`)
    assert.equal(check.signedBy(digest(i), await other.sign({ hash: digest(i) }), buyer.address), false, `${round}: other signer`)
    assert.equal(check.signedBy(digest(i), `${sig.slice(0, 130)}` as Hex, buyer.address), false, `${round}: 64 bytes`)
  }
})

test('the authorization digest equals viem\'s EIP-712 hash', () => {
  for (const [name, chainId] of [['USDC', 84532], ['USD Coin', 8453]] as const) {
    const domain = { name, version: '2', chainId, verifyingContract: '0x036CbD53842c5426634e7929541eC2318f3dCF7e' as Hex }
    const message = { from: buyer.address, to: other.address, value: 10_000n, validAfter: 0n, validBefore: 1_999_999_999n, nonce: digest(7) }
    assert.equal(authorizationDigest(domain, message), hashTypedData({ domain, types: authorizationTypes, primaryType: 'TransferWithAuthorization', message }))
  }
})

test('the native primitives give what the pure-JS fallback gives', async () => {
  for (let i = 0; i < 20; i++) {
    const data = Buffer.from(`payload ${i} `.repeat(i + 1))
    assert.deepEqual(Buffer.from(keccak256Bytes(data)), Buffer.from(js.keccak256(data)))
    const sig = await buyer.sign({ hash: digest(i) })
    const msg = Buffer.from(digest(i).slice(2), 'hex')
    const compact = Buffer.from(sig.slice(2, 130), 'hex')
    const recid = (Number.parseInt(sig.slice(130), 16) - 27) as 0 | 1
    assert.deepEqual(Buffer.from(recoverPublicKey(msg, compact, recid)!), Buffer.from(js.recover(msg, compact, recid)))
  }
})

test('settlement transactions are signed to the same bytes as viem signs them', async () => {
  const key = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a' as Hex
  const account = privateKeyToAccount(key)
  for (const [nonce, data] of [[0, '0x'], [7, `0xa9059cbb${'00'.repeat(64)}`], [123_456, `0x${'ab'.repeat(25_000)}`]] as const) {
    const tx = { chainId: 84532, nonce, to: other.address, data: data as Hex, gas: 150_000n, gasPrice: 1_250_000_001n }
    const expected = await account.signTransaction({ ...tx, type: 'legacy' })
    const { raw, hash } = signLegacyTransaction(tx, Buffer.from(key.slice(2), 'hex'))
    assert.equal(raw, expected)
    assert.equal(hash, keccak256(expected))
  }
})

test('transferWithAuthorization calldata equals viem\'s ABI encoding', async () => {
  const message = { from: buyer.address, to: other.address, value: 123_456_789n, validAfter: 0n, validBefore: 1_999_999_999n, nonce: digest(3) }
  const sig = await buyer.sign({ hash: digest(4) })
  const { r, s, v } = parseSignature(sig)
  const expected = encodeFunctionData({ abi: eip3009ABI, functionName: 'transferWithAuthorization', args: [message.from, message.to, message.value, message.validAfter, message.validBefore, message.nonce, Number(v), r, s] })
  assert.equal(transferWithAuthorizationData(message, sig), expected)
})

test('lenient checks take what plain ecrecover takes: high s, v 0/1; never another signer', async () => {
  const sig = await buyer.sign({ hash: digest(5) })
  const v01 = `${sig.slice(0, 130)}${sig.endsWith('1b') ? '00' : '01'}` as Hex
  assert.equal(signedBy(digest(5), highS(sig), buyer.address, true), true)
  assert.equal(signedBy(digest(5), v01, buyer.address, true), true)
  assert.equal(signedBy(digest(5), v01, buyer.address), false)
  assert.equal(signedBy(digest(5), flipV(sig), buyer.address, true), false)
  assert.equal(signedBy(digest(6), sig, buyer.address, true), false)
})

test('the upto Permit2 witness digest equals viem\'s EIP-712 hash with the SDK\'s types', () => {
  const message = {
    permitted: { token: '0x036CbD53842c5426634e7929541eC2318f3dCF7e' as Hex, amount: 123_456n }, spender: '0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002' as Hex,
    nonce: 2n ** 200n + 7n, deadline: 1_999_999_999n, witness: { to: other.address, facilitator: buyer.address, validAfter: 1_700_000_000n },
  }
  for (const chainId of [84532, 8453, 31337]) {
    const domain = { name: 'Permit2', chainId, verifyingContract: PERMIT2_ADDRESS as Hex }
    const expected = hashTypedData({ domain, types: uptoPermit2WitnessTypes, primaryType: 'PermitWitnessTransferFrom', message })
    assert.equal(`0x${uptoPermitDigest(chainId, PERMIT2_ADDRESS as Hex, message).toString('hex')}`, expected)
  }
})
