/**
 * keccak-256 and secp256k1 public-key recovery on the payment hot path, in native code: libsecp256k1 (`secp256k1`)
 * and the XKCP keccak (`keccak`), both N-API prebuilds shipped inside their npm packages (linux-x64, darwin, win32).
 * Where no prebuild loads (another platform), the same functions run on @noble (pure JS, ~40x slower here).
 */
import { createRequire } from 'node:module'
import { secp256k1 as noble } from '@noble/curves/secp256k1'
import { keccak_256 } from '@noble/hashes/sha3'
import { bytesToHex, hexToBytes, serializeTransaction, type Hex, type TransactionSerializableLegacy } from 'viem'

type NativeSecp = {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number }
}
type NativeKeccak = (algorithm: 'keccak256') => { update(b: Uint8Array): { digest(): Buffer } }

const require = createRequire(import.meta.url)
function load<T>(id: string): T | undefined {
  try { return require(id) as T } catch { return undefined }
}
const nativeSecp = load<NativeSecp>('secp256k1/bindings')
const nativeKeccak = load<NativeKeccak>('keccak/bindings')

/** Whether both primitives run natively (checked by the tests on this platform). */
export const nativeCrypto = nativeSecp !== undefined && nativeKeccak !== undefined

/** The pure-JS versions, used where no prebuild loads (exported for the tests that compare both). */
export const js = {
  keccak256: (data: Uint8Array): Uint8Array => keccak_256(data),
  recover: (digest: Uint8Array, compact: Uint8Array, recid: 0 | 1): Uint8Array =>
    noble.Signature.fromCompact(compact).addRecoveryBit(recid).recoverPublicKey(digest).toRawBytes(false),
  sign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: 0 | 1 } {
    const sig = noble.sign(digest, privateKey, { lowS: true })
    return { signature: sig.toCompactRawBytes(), recid: sig.recovery as 0 | 1 }
  },
}

/** A deterministic (RFC 6979), low-s signature of a 32-byte digest: the same bytes from both implementations. */
export const signDigest: (digest: Uint8Array, privateKey: Uint8Array) => { signature: Uint8Array; recid: 0 | 1 } = nativeSecp
  ? (digest, privateKey) => nativeSecp.ecdsaSign(digest, privateKey) as { signature: Uint8Array; recid: 0 | 1 }
  : js.sign

export const keccak256Bytes: (data: Uint8Array) => Uint8Array = nativeKeccak
  ? (data) => nativeKeccak('keccak256').update(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)).digest()
  : js.keccak256

/**
 * The uncompressed public key (65 bytes) that signed `digest` with the 64-byte compact signature and recovery id,
 * or undefined when none does.
 */
export function recoverPublicKey(digest: Uint8Array, compact: Uint8Array, recid: 0 | 1): Uint8Array | undefined {
  try {
    return nativeSecp ? nativeSecp.ecdsaRecover(compact, recid, digest, false) : js.recover(digest, compact, recid)
  } catch {
    return undefined
  }
}

/**
 * Sign a legacy (EIP-155) transaction: the same raw bytes as viem's account.signTransaction, with the hashing and
 * signing native. Returns the raw transaction and its hash.
 */
export function signLegacyTransaction(tx: TransactionSerializableLegacy & { chainId: number }, privateKey: Uint8Array): { raw: Hex; hash: Hex } {
  const digest = keccak256Bytes(hexToBytes(serializeTransaction({ ...tx, type: 'legacy' })))
  const { signature, recid } = signDigest(digest, privateKey)
  const raw = serializeTransaction({ ...tx, type: 'legacy' }, { r: bytesToHex(signature.subarray(0, 32)), s: bytesToHex(signature.subarray(32, 64)), v: BigInt(27 + recid) })
  return { raw, hash: bytesToHex(keccak256Bytes(hexToBytes(raw))) }
}
