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

type Word = Hex | bigint | Uint8Array

/** ABI-encode static words (address, uint256, bytes32): each left-padded to 32 bytes. */
function words(values: readonly Word[]): Buffer {
  const out = Buffer.alloc(values.length * 32)
  values.forEach((v, i) => {
    const offset = i * 32
    if (typeof v === 'bigint') {
      if (v < 0n || v >= 1n << 256n) throw new RangeError('uint256 out of range')
      out.write(v.toString(16).padStart(64, '0'), offset, 'hex')
    } else if (typeof v === 'string') {
      const hex = v.slice(2)
      if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length > 64 || hex.length % 2) throw new RangeError(`not a hex word: ${v}`)
      out.write(hex.padStart(64, '0'), offset, 'hex')
    } else {
      Buffer.from(v).copy(out, offset + 32 - v.length)
    }
  })
  return out
}

/** The authorisation's fields in ABI order (from, to, value, validAfter, validBefore, nonce). */
function authorizationWords(a: Authorization): Word[] {
  if (a.nonce.length !== 66) throw new RangeError('the nonce must be 32 bytes')
  return [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce]
}

/** The EIP-712 digest of a TransferWithAuthorization (what viem's hashTypedData gives), domain separator cached. */
export function authorizationDigestBytes(d: TokenDomain, a: Authorization): Buffer {
  const key = `${d.name}\0${d.version}\0${d.chainId}\0${d.verifyingContract.toLowerCase()}`
  let separator = domainSeparators.get(key)
  if (!separator) {
    separator = Buffer.from(keccak256Bytes(words([DOMAIN_TYPEHASH, keccak256Bytes(utf8(d.name)), keccak256Bytes(utf8(d.version)), BigInt(d.chainId), d.verifyingContract])))
    domainSeparators.set(key, separator)
  }
  const struct = keccak256Bytes(words([TRANSFER_TYPEHASH, ...authorizationWords(a)]))
  return Buffer.from(keccak256Bytes(Buffer.concat([Buffer.from([0x19, 0x01]), separator, struct])))
}

const PERMIT2_DOMAIN_TYPEHASH = keccak256Bytes(utf8('EIP712Domain(string name,uint256 chainId,address verifyingContract)'))
const TOKEN_PERMISSIONS = 'TokenPermissions(address token,uint256 amount)'
const WITNESS = 'Witness(address to,address facilitator,uint256 validAfter)'
const TOKEN_PERMISSIONS_TYPEHASH = keccak256Bytes(utf8(TOKEN_PERMISSIONS))
const WITNESS_TYPEHASH = keccak256Bytes(utf8(WITNESS))
// EIP-712: the primary type, then the types it references in alphabetical order
const PERMIT_WITNESS_TYPEHASH = keccak256Bytes(utf8(`PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,Witness witness)${TOKEN_PERMISSIONS}${WITNESS}`))

export type UptoPermit = {
  permitted: { token: Hex; amount: bigint }; spender: Hex; nonce: bigint; deadline: bigint
  witness: { to: Hex; facilitator: Hex; validAfter: bigint }
}

/**
 * The EIP-712 digest a payer signs for an x402 `upto` payment: Permit2's PermitWitnessTransferFrom with the upto
 * witness (what viem's hashTypedData gives with @x402/evm's uptoPermit2WitnessTypes), natively hashed.
 */
export function uptoPermitDigest(chainId: number, permit2: Hex, m: UptoPermit): Buffer {
  const key = `Permit2\0${chainId}\0${permit2.toLowerCase()}`
  let separator = domainSeparators.get(key)
  if (!separator) {
    separator = Buffer.from(keccak256Bytes(words([PERMIT2_DOMAIN_TYPEHASH, keccak256Bytes(utf8('Permit2')), BigInt(chainId), permit2])))
    domainSeparators.set(key, separator)
  }
  const struct = keccak256Bytes(words([
    PERMIT_WITNESS_TYPEHASH, keccak256Bytes(words([TOKEN_PERMISSIONS_TYPEHASH, m.permitted.token, m.permitted.amount])), m.spender, m.nonce, m.deadline,
    keccak256Bytes(words([WITNESS_TYPEHASH, m.witness.to, m.witness.facilitator, m.witness.validAfter])),
  ]))
  return Buffer.from(keccak256Bytes(Buffer.concat([Buffer.from([0x19, 0x01]), separator, struct])))
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
  const v = Number.parseInt(signature.slice(130), 16)
  const out = words([...authorizationWords(a), BigInt(v < 27 ? v + 27 : v), `0x${signature.slice(2, 66)}`, `0x${signature.slice(66, 130)}`])
  return `0x${TRANSFER_WITH_AUTHORIZATION}${out.toString('hex')}`
}
