import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { homePaths } from '../state/home.ts'
import { readPassphrase } from './passphrase.ts'
import { createWallet, exportPrivateKey, importWallet, loadWallet, stackSigner, walletAddress } from './wallet.ts'
import { DEV_KEYS } from './testing/registryChain.ts'

const FAST = { scryptN: 1024 }

function home(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'vend-wallet-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return homePaths(dir)
}

test('create -> keystore v3 at VEND_HOME/wallet/keystore.json, 0600 in a 0700 dir, address readable without the passphrase', async (t) => {
  const paths = home(t)
  assert.equal(walletAddress(paths), undefined)
  const { address } = await createWallet(paths, 'correct horse', FAST)
  assert.equal(statSync(paths.keystore).mode & 0o777, 0o600)
  assert.equal(statSync(join(paths.root, 'wallet')).mode & 0o777, 0o700)
  const json = JSON.parse(readFileSync(paths.keystore, 'utf8'))
  assert.equal(json.version, 3)
  assert.equal(json.Crypto?.kdf ?? json.crypto?.kdf, 'scrypt')
  assert.equal(walletAddress(paths), address)
  const account = await loadWallet(paths, 'correct horse')
  assert.equal(account.address, address)
  // the file holds no plaintext key
  const key = await exportPrivateKey(paths, 'correct horse')
  assert.ok(!readFileSync(paths.keystore, 'utf8').includes(key.slice(2)))
})

test('import round trip keeps the key; a second create refuses to overwrite', async (t) => {
  const paths = home(t)
  const { address } = await importWallet(paths, `  ${DEV_KEYS[0]}\n`, 'pw', FAST)
  assert.equal(address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
  assert.equal(await exportPrivateKey(paths, 'pw'), DEV_KEYS[0])
  await assert.rejects(createWallet(paths, 'pw', FAST), { name: 'WalletExistsError' })
  assert.equal(walletAddress(paths), address)
})

test('a wrong passphrase is a clear error, not garbage', async (t) => {
  const paths = home(t)
  await createWallet(paths, 'right', FAST)
  await assert.rejects(loadWallet(paths, 'wrong'), (err: Error & { hint?: string }) => {
    assert.equal(err.name, 'WalletPasswordError')
    assert.match(err.message, /Wrong passphrase/)
    return true
  })
})

test('a malformed private key is refused without echoing it', async (t) => {
  const paths = home(t)
  const bad = `${DEV_KEYS[0].slice(0, 60)}zz`
  await assert.rejects(importWallet(paths, bad, 'pw', FAST), (err: Error) => {
    assert.equal(err.name, 'InvalidInputError')
    assert.ok(!err.message.includes(bad.slice(2, 40)))
    return true
  })
})

test('loading with no wallet names the commands that make one', async (t) => {
  const paths = home(t)
  await assert.rejects(loadWallet(paths, 'pw'), /vend wallet create/)
})

test('passphrase: --password-file, then VEND_WALLET_PASSWORD, then the prompt; none and no terminal -> error naming the options', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vend-pw-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'pw')
  writeFileSync(file, 's3cret\n')
  assert.equal(await readPassphrase({ env: { VEND_WALLET_PASSWORD: 'env' }, passwordFile: file, canPrompt: false }), 's3cret')
  assert.equal(await readPassphrase({ env: { VEND_WALLET_PASSWORD: 'env' }, canPrompt: false }), 'env')
  const asked: string[] = []
  assert.equal(await readPassphrase({ env: {}, canPrompt: true, prompt: async (q) => { asked.push(q); return 'typed' } }, { confirm: true }), 'typed')
  assert.equal(asked.length, 2)
  await assert.rejects(readPassphrase({ env: {}, canPrompt: true, prompt: async (q) => (q.startsWith('Repeat') ? 'other' : 'typed') }, { confirm: true }), /differ/)
  await assert.rejects(readPassphrase({ env: {}, canPrompt: false }), (err: Error) => {
    assert.match(err.message, /VEND_WALLET_PASSWORD/)
    assert.match(err.message, /--password-file/)
    return true
  })
  await assert.rejects(readPassphrase({ env: {}, passwordFile: join(dir, 'missing'), canPrompt: false }), /Cannot read the password file/)
})

test('stackSigner: dev mode creates the wallet from VEND_WALLET_PASSWORD once, then unlocks the same one; without a passphrase it says what to set', async (t) => {
  const paths = home(t)
  const none = await stackSigner(paths, {}, { ...FAST, createIfMissing: true })
  assert.equal(none.account, undefined)
  assert.match(!none.account ? none.reason : '', /VEND_WALLET_PASSWORD/)
  assert.equal(walletAddress(paths), undefined)
  assert.match((await stackSigner(paths, { VEND_WALLET_PASSWORD: 'pw' }, FAST) as { reason: string }).reason, /vend wallet create/)

  const first = await stackSigner(paths, { VEND_WALLET_PASSWORD: 'pw' }, { ...FAST, createIfMissing: true })
  assert.ok(first.account && first.created)
  const second = await stackSigner(paths, { VEND_WALLET_PASSWORD: 'pw' }, { ...FAST, createIfMissing: true })
  assert.ok(second.account && !second.created)
  assert.equal(second.account.address, first.account.address)
  assert.equal(walletAddress(paths), first.account.address)
})
