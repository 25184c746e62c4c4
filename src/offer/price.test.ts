import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatAtomic, mulDivCeil, toAtomic } from './price.ts'

test('toAtomic converts exactly, with no float', () => {
  assert.equal(toAtomic('0.000001', 6), 1n)
  assert.equal(toAtomic('12.5', 6), 12_500_000n)
  assert.equal(toAtomic('0.001', 6), 1000n)
  assert.equal(toAtomic('0', 6), 0n)
  assert.equal(toAtomic('123456789012345678901234567890.5', 6), 123456789012345678901234567890_500000n)
  assert.equal(toAtomic('1', 18), 10n ** 18n)
})

test('toAtomic rejects excess precision instead of rounding', () => {
  assert.throws(() => toAtomic('0.0000001', 6), /7 decimals but the asset has only 6/)
})

test('toAtomic rejects malformed numbers', () => {
  for (const bad of ['', '-1', '1e-6', '.5', '1.', '01', '$1', '1,5', ' 1', 'NaN', 'Infinity', '0x10']) {
    assert.throws(() => toAtomic(bad, 6), /Invalid price/, bad)
  }
})

test('formatAtomic round-trips', () => {
  for (const s of ['0.000001', '12.5', '1', '0', '1000000.123456']) assert.equal(formatAtomic(toAtomic(s, 6), 6), s)
  assert.equal(formatAtomic(1n, 18), '0.000000000000000001')
})

test('mulDivCeil rounds up to the next atomic unit', () => {
  assert.equal(mulDivCeil(3n, 1_250_000n, 1_000_000n), 4n) // 3.75 -> 4
  assert.equal(mulDivCeil(4n, 250_000n, 1_000_000n), 1n)
  assert.equal(mulDivCeil(0n, 5n, 7n), 0n)
})
