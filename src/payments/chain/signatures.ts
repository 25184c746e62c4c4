/**
 * Fast ECDSA checks for EIP-3009 authorisations. The first signature of a payer is recovered (slow in JS); its
 * public key is then kept with precomputed multiples, so that payer's later signatures are verified against it,
 * several times faster than recovering each one. Accepts only what ecrecover on chain accepts: 65 bytes, v 27/28,
 * low s, and the recovery parity must match v.
 */
import { secp256k1 } from '@noble/curves/secp256k1'
import { concat, encodeAbiParameters, keccak256, toBytes, type Hex } from 'viem'

type Point = InstanceType<typeof secp256k1.ProjectivePoint>
const { n } = secp256k1.CURVE
const G = secp256k1.ProjectivePoint.BASE
const HALF_N = n >> 1n
const MAX_KEYS = 10_000

const mod = (a: bigint) => ((a % n) + n) % n
function invert(a: bigint): bigint {
  let [x, y, u, v] = [mod(a), n, 1n, 0n]
  while (x !== 0n) {
    const q = y / x
    ;[x, y, u, v] = [y % x, x, v - q * u, u]
  }
  return mod(v)
}

function addressOf(p: Point): string {
  const raw = p.toRawBytes(false)
  return `0x${keccak256(raw.subarray(1)).slice(-40)}`
}

const DOMAIN_TYPEHASH = keccak256(toBytes('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'))
const TRANSFER_TYPEHASH = keccak256(toBytes('TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)'))
const domainSeparators = new Map<string, Hex>()

export type TokenDomain = { name: string; version: string; chainId: number; verifyingContract: Hex }
export type Authorization = { from: Hex; to: Hex; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex }

/** The EIP-712 digest of a TransferWithAuthorization (what viem's hashTypedData gives, with the domain separator cached). */
export function authorizationDigest(d: TokenDomain, a: Authorization): Hex {
  const key = `${d.name}\0${d.version}\0${d.chainId}\0${d.verifyingContract.toLowerCase()}`
  let separator = domainSeparators.get(key)
  if (!separator) {
    separator = keccak256(encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }],
      [DOMAIN_TYPEHASH, keccak256(toBytes(d.name)), keccak256(toBytes(d.version)), BigInt(d.chainId), d.verifyingContract],
    ))
    domainSeparators.set(key, separator)
  }
  const struct = keccak256(encodeAbiParameters(
    [{ type: 'bytes32' }, { type: 'address' }, { type: 'address' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'bytes32' }],
    [TRANSFER_TYPEHASH, a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce],
  ))
  return keccak256(concat(['0x1901', separator, struct]))
}

export type SignatureChecker = {
  /** Whether `signature` over `digest` was made by `address`'s key (an EOA signature ecrecover accepts). */
  signedBy(digest: Hex, signature: Hex, address: string): boolean
}

export function createSignatureChecker(): SignatureChecker {
  const keys = new Map<string, Point>()
  return {
    signedBy(digest, signature, address) {
      if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return false
      const r = BigInt(`0x${signature.slice(2, 66)}`)
      const s = BigInt(`0x${signature.slice(66, 130)}`)
      const v = Number.parseInt(signature.slice(130), 16)
      if (v !== 27 && v !== 28) return false
      if (r <= 0n || r >= n || s <= 0n || s > HALF_N) return false
      const who = address.toLowerCase()
      const h = mod(BigInt(digest))
      const known = keys.get(who)
      if (known) {
        try {
          const w = invert(s)
          const u1 = mod(h * w)
          const u2 = known.multiply(mod(r * w))
          const R = (u1 === 0n ? u2 : G.multiply(u1).add(u2)).toAffine()
          return mod(R.x) === r && Number(R.y & 1n) === v - 27
        } catch { return false }
      }
      let p: Point
      try {
        p = new secp256k1.Signature(r, s).addRecoveryBit(v - 27).recoverPublicKey(digest.slice(2)) as Point
      } catch { return false }
      if (addressOf(p) !== who) return false
      if (keys.size >= MAX_KEYS) keys.clear()
      p._setWindowSize(8)
      keys.set(who, p)
      return true
    },
  }
}
