/**
 * Fast checks of EIP-3009 authorisations: the EIP-712 digest is built from fixed 32-byte words (no ABI encoder)
 * and the signer recovered with libsecp256k1 (see nativeCrypto.ts), ~80 µs per signature here against several
 * milliseconds in JS. Accepts only what ecrecover on chain accepts: 65 bytes, v 27/28, 0 < r < n, 0 < s <= n/2.
 */
import { secp256k1 } from '@noble/curves/secp256k1'
import type { Hex } from 'viem'
import { keccak256Bytes, recoverPublicKey } from './nativeCrypto.ts'

const { n } = secp256k1.CURVE
const HALF_N = n >> 1n
const utf8 = (s: string) => Buffer.from(s, 'utf8')
const DOMAIN_TYPEHASH = keccak256Bytes(utf8('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'))
const TRANSFER_TYPEHASH = keccak256Bytes(utf8('TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)'))
const domainSeparators = new Map<string, Buffer>()

export type TokenDomain = { name: string; version: string; chainId: number; verifyingContract: Hex }
export type Authorization = { from: Hex; to: Hex; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex }

/** Write one ABI word (address, uint256 or bytes32) at `offset`. */
function word(out: Buffer, offset: number, v: Hex | bigint | Uint8Array): void {
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 256n) throw new RangeError('uint256 out of range')
    out.write(v.toString(16).padStart(64, '0'), offset, 'hex')
  } else if (typeof v === 'string') {
    const hex = v.slice(2)
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length > 64 || hex.length % 2) throw new RangeError(`not a hex word: ${v}`)
    // addresses are left-padded; a bytes32 nonce is exactly 32 bytes
    out.write(hex.padStart(64, '0'), offset, 'hex')
  } else {
    Buffer.from(v).copy(out, offset)
  }
}

/** The EIP-712 digest of a TransferWithAuthorization (what viem's hashTypedData gives), domain separator cached. */
export function authorizationDigestBytes(d: TokenDomain, a: Authorization): Buffer {
  const key = `${d.name}\0${d.version}\0${d.chainId}\0${d.verifyingContract.toLowerCase()}`
  let separator = domainSeparators.get(key)
  if (!separator) {
    const enc = Buffer.alloc(5 * 32)
    word(enc, 0, DOMAIN_TYPEHASH)
    word(enc, 32, keccak256Bytes(utf8(d.name)))
    word(enc, 64, keccak256Bytes(utf8(d.version)))
    word(enc, 96, BigInt(d.chainId))
    word(enc, 128, d.verifyingContract)
    separator = Buffer.from(keccak256Bytes(enc))
    domainSeparators.set(key, separator)
  }
  const struct = Buffer.alloc(7 * 32)
  word(struct, 0, TRANSFER_TYPEHASH)
  word(struct, 32, a.from)
  word(struct, 64, a.to)
  word(struct, 96, a.value)
  word(struct, 128, a.validAfter)
  word(struct, 160, a.validBefore)
  if (a.nonce.length !== 66) throw new RangeError('the nonce must be 32 bytes')
  word(struct, 192, a.nonce)
  return Buffer.from(keccak256Bytes(Buffer.concat([Buffer.from([0x19, 0x01]), separator, keccak256Bytes(struct)])))
}

export const authorizationDigest = (d: TokenDomain, a: Authorization): Hex => `0x${authorizationDigestBytes(d, a).toString('hex')}`

/** The address of an uncompressed public key (65 bytes), lower case. */
function addressOf(publicKey: Uint8Array): string {
  return `0x${Buffer.from(keccak256Bytes(publicKey.subarray(1))).subarray(12).toString('hex')}`
}

/**
 * Whether `signature` (65 bytes hex) over `digest` was made by `address`'s key, as OpenZeppelin's ECDSA.recover
 * on chain would say (what USDC's EIP-3009 uses): v 27/28 and low s. `lenient` takes what plain ecrecover
 * (Permit2) and viem's recoverTypedDataAddress take as well: v 0/1 and high s.
 */
export function signedBy(digest: Hex | Uint8Array, signature: Hex, address: string, lenient = false): boolean {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return false
  const r = BigInt(`0x${signature.slice(2, 66)}`)
  const s = BigInt(`0x${signature.slice(66, 130)}`)
  let v = Number.parseInt(signature.slice(130), 16)
  if (lenient && (v === 0 || v === 1)) v += 27
  if (v !== 27 && v !== 28) return false
  if (r <= 0n || r >= n || s <= 0n || s >= n || (s > HALF_N && !lenient)) return false
  const msg = typeof digest === 'string' ? Buffer.from(digest.slice(2), 'hex') : digest
  if (msg.length !== 32) return false
  const pub = recoverPublicKey(msg, Buffer.from(signature.slice(2, 130), 'hex'), (v - 27) as 0 | 1)
  return pub !== undefined && addressOf(pub) === address.toLowerCase()
}

/** The selector of transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32). */
const TRANSFER_WITH_AUTHORIZATION = 'e3ee160e'

/** Calldata of the token's transferWithAuthorization for a signed authorisation (65-byte signature, v 27/28 or 0/1). */
export function transferWithAuthorizationData(a: Authorization, signature: Hex): Hex {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new RangeError('the signature must be 65 bytes')
  const out = Buffer.alloc(9 * 32)
  word(out, 0, a.from)
  word(out, 32, a.to)
  word(out, 64, a.value)
  word(out, 96, a.validAfter)
  word(out, 128, a.validBefore)
  if (a.nonce.length !== 66) throw new RangeError('the nonce must be 32 bytes')
  word(out, 160, a.nonce)
  const v = Number.parseInt(signature.slice(130), 16)
  word(out, 192, BigInt(v < 27 ? v + 27 : v))
  word(out, 224, `0x${signature.slice(2, 66)}`)
  word(out, 256, `0x${signature.slice(66, 130)}`)
  return `0x${TRANSFER_WITH_AUTHORIZATION}${out.toString('hex')}`
}
