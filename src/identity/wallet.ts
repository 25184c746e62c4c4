/**
 * The stack wallet: one encrypted keystore (Web3 Secret Storage v3, scrypt + aes-128-ctr) at
 * VEND_HOME/wallet/keystore.json, file 0600 in a 0700 directory, written atomically. Its address is readable
 * without the passphrase (the keystore stores it in clear); the key only ever leaves as a viem LocalAccount,
 * except through `exportPrivateKey` (used by `vend wallet export`, which asks first).
 */
import { chmodSync, existsSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { decryptKeystoreJson, encryptKeystoreJson } from 'ethers'
import { getAddress, type Hex, type LocalAccount } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { BaseError, InvalidInputError } from '../errors/base.ts'
import { ensureDir, writeFileAtomic } from '../state/atomicWrite.ts'
import type { HomePaths } from '../state/home.ts'
import type { Address } from '../offer/networks.ts'

/** scrypt cost; the default (N = 2^17, r = 8, p = 1) is the standard one. Tests pass a small N to stay fast. */
export type KeystoreOptions = { scryptN?: number }

export const DEFAULT_SCRYPT_N = 131_072

export class WalletExistsError extends BaseError {
  override name = 'WalletExistsError'
}
export class WalletMissingError extends BaseError {
  override name = 'WalletMissingError'
}
export class WalletPasswordError extends BaseError {
  override name = 'WalletPasswordError'
}
export class KeystoreInvalidError extends BaseError {
  override name = 'KeystoreInvalidError'
}

export type WalletInfo = { address: Address; keystore: string }

/** The wallet's address from the keystore JSON, without decrypting; undefined when there is no wallet. */
export function walletAddress(paths: HomePaths): Address | undefined {
  if (!existsSync(paths.keystore)) return undefined
  const json = readKeystore(paths)
  const raw = typeof json.address === 'string' ? json.address : ''
  const hex = raw.startsWith('0x') ? raw : `0x${raw}`
  if (!/^0x[0-9a-fA-F]{40}$/.test(hex)) {
    throw new KeystoreInvalidError(`${paths.keystore} has no valid address field.`, { hint: 'Restore the keystore from a backup, or move it away and run `vend wallet import`.' })
  }
  return getAddress(hex)
}

/** Create a new random wallet. Refuses to overwrite an existing keystore. */
export async function createWallet(paths: HomePaths, password: string, options: KeystoreOptions = {}): Promise<WalletInfo> {
  return writeKeystore(paths, generatePrivateKey(), password, options)
}

/** Import an existing private key (0x + 64 hex digits; surrounding whitespace is ignored). */
export async function importWallet(paths: HomePaths, privateKey: string, password: string, options: KeystoreOptions = {}): Promise<WalletInfo> {
  return writeKeystore(paths, parsePrivateKey(privateKey), password, options)
}

/** Decrypt the keystore into a signer. */
export async function loadWallet(paths: HomePaths, password: string): Promise<LocalAccount> {
  return privateKeyToAccount(await decryptKey(paths, password))
}

/** The raw private key: only for `vend wallet export`. */
export async function exportPrivateKey(paths: HomePaths, password: string): Promise<Hex> {
  return decryptKey(paths, password)
}

export function parsePrivateKey(value: string): Hex {
  const v = value.trim()
  const hex = /^[0-9a-fA-F]{64}$/.test(v) ? `0x${v}` : v
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex) || /^0x0{64}$/.test(hex)) {
    // Never echo the value: it may be a real key with a typo.
    throw new InvalidInputError('The private key is not 32 bytes of hex (0x followed by 64 hex digits).', { hint: 'Check the key file: it should hold only the key, e.g. 0xac09...ff80.' })
  }
  return hex as Hex
}

/** Refuse to replace an existing keystore (checked before asking for a passphrase). */
export function assertNoWallet(paths: HomePaths): void {
  if (!existsSync(paths.keystore)) return
  throw new WalletExistsError(`A wallet already exists at ${paths.keystore} (${walletAddress(paths) ?? 'unreadable address'}).`, {
    hint: 'Use it as it is (`vend wallet show`), or move the file away first if you really mean to replace it (back it up: it holds the stack\'s key).',
  })
}

async function writeKeystore(paths: HomePaths, key: Hex, password: string, options: KeystoreOptions): Promise<WalletInfo> {
  assertNoWallet(paths)
  if (!password) throw new InvalidInputError('The wallet passphrase is empty.', { hint: 'Choose a non-empty passphrase.' })
  const account = privateKeyToAccount(key)
  const json = await encryptKeystoreJson({ address: account.address, privateKey: key }, password, {
    scrypt: { N: options.scryptN ?? DEFAULT_SCRYPT_N, r: 8, p: 1 },
  })
  const dir = dirname(paths.keystore)
  ensureDir(dir, 0o700)
  chmodSync(dir, 0o700)
  writeFileAtomic(paths.keystore, `${json}\n`, 0o600)
  return { address: account.address, keystore: paths.keystore }
}

function readKeystore(paths: HomePaths): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(paths.keystore, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missing(paths)
    throw err
  }
  try {
    const json = JSON.parse(text) as unknown
    if (json && typeof json === 'object' && (json as { version?: unknown }).version === 3) return json as Record<string, unknown>
  } catch { /* reported below */ }
  throw new KeystoreInvalidError(`${paths.keystore} is not a Web3 Secret Storage v3 keystore.`, { hint: 'Restore the keystore from a backup, or move it away and run `vend wallet import`.' })
}

async function decryptKey(paths: HomePaths, password: string): Promise<Hex> {
  const json = readKeystore(paths)
  try {
    const account = await decryptKeystoreJson(JSON.stringify(json), password)
    return account.privateKey as Hex
  } catch (err) {
    if (/password/i.test((err as Error).message)) {
      throw new WalletPasswordError(`Wrong passphrase for the wallet at ${paths.keystore}.`, { hint: 'Check VEND_WALLET_PASSWORD or the --password-file contents.' })
    }
    throw new KeystoreInvalidError(`Could not decrypt ${paths.keystore}: ${(err as Error).message}.`, { hint: 'Restore the keystore from a backup, or move it away and run `vend wallet import`.' })
  }
}

function missing(paths: HomePaths): WalletMissingError {
  return new WalletMissingError(`There is no stack wallet at ${paths.keystore}.`, { hint: 'Create one with `vend wallet create` or import a key with `vend wallet import --key-file <file>`.' })
}

/** Throw the standard "no wallet" error unless the keystore exists. */
export function requireWallet(paths: HomePaths): Address {
  const address = walletAddress(paths)
  if (!address) throw missing(paths)
  return address
}

export type StackSigner = { account: LocalAccount; created: boolean } | { account: undefined; reason: string }

/**
 * The daemon's signer (never prompts): the wallet unlocked with VEND_WALLET_PASSWORD. With `createIfMissing`
 * (dev mode) a missing wallet is created with that passphrase. Without a wallet or a passphrase the result says
 * why, and registration stays pending.
 */
export async function stackSigner(paths: HomePaths, env: NodeJS.ProcessEnv, opts: KeystoreOptions & { createIfMissing?: boolean } = {}): Promise<StackSigner> {
  const password = env.VEND_WALLET_PASSWORD
  const exists = walletAddress(paths) !== undefined
  if (!exists && !opts.createIfMissing) return { account: undefined, reason: 'The stack has no wallet; create one with `vend wallet create`.' }
  if (!password) {
    return { account: undefined, reason: `Set VEND_WALLET_PASSWORD for the daemon so it can ${exists ? 'unlock' : 'create'} the stack wallet.` }
  }
  if (!exists) await createWallet(paths, password, opts)
  return { account: await loadWallet(paths, password), created: !exists }
}
