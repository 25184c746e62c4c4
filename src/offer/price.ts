/**
 * Exact decimal money math. Prices are decimal strings in token units ("0.001"); amounts on the wire are
 * integers in the asset's atomic units. No floating point anywhere: a price with more decimals than the
 * asset has is an error, never rounded.
 */
import { InvalidInputError } from '../errors/base.ts'

const DECIMAL = /^(0|[1-9]\d*)(\.\d+)?$/

export function isDecimalString(value: string): boolean {
  return DECIMAL.test(value)
}

/** "12.5" with 6 decimals -> 12500000n. Throws InvalidInputError on malformed input or excess precision. */
export function toAtomic(price: string, decimals: number, what = 'price'): bigint {
  if (typeof price !== 'string' || !DECIMAL.test(price)) {
    throw new InvalidInputError(`Invalid ${what} "${String(price)}": expected a decimal number like 0.001.`, {
      hint: 'Write the price in token units with a dot as decimal separator, no sign, exponent or currency symbol.',
    })
  }
  if (price.length > 78) throw new InvalidInputError(`Invalid ${what}: the number is too long.`)
  const [whole = '0', frac = ''] = price.split('.')
  if (frac.length > decimals) {
    throw new InvalidInputError(
      `Invalid ${what} "${price}": it has ${frac.length} decimals but the asset has only ${decimals}.`,
      { hint: `Use at most ${decimals} decimal places (smallest unit ${formatAtomic(1n, decimals)}).` },
    )
  }
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0')
}

/** 12500000n with 6 decimals -> "12.5"; 1n -> "0.000001". Never exponent notation. */
export function formatAtomic(amount: bigint, decimals: number): string {
  const neg = amount < 0n
  const abs = neg ? -amount : amount
  const base = 10n ** BigInt(decimals)
  const whole = abs / base
  const frac = decimals === 0 ? '' : (abs % base).toString().padStart(decimals, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`
}

/** ceil(a * b / d) for non-negative bigints: metered charges round up to the next atomic unit. */
export function mulDivCeil(a: bigint, b: bigint, d: bigint): bigint {
  const n = a * b
  return n / d + (n % d === 0n ? 0n : 1n)
}
