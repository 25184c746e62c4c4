import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { homePaths } from '../../state/home.ts'
import type { CliContext } from '../context.ts'
import { register } from './wallet.ts'

const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const ADDRESS = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

function setup(t: { after: (fn: () => void) => void }, env: NodeJS.ProcessEnv = { VEND_WALLET_PASSWORD: 'pw' }, prompt = false, answer = true) {
  const home = mkdtempSync(join(tmpdir(), 'vend-wallet-cli-'))
  t.after(() => rmSync(home, { recursive: true, force: true }))
  const out: string[] = []
  const err: string[] = []
  const ctx: CliContext = {
    env, paths: () => homePaths(home), canPrompt: () => prompt,
    io: { out: (s) => out.push(s), err: (s) => err.push(s), stdoutIsTTY: prompt, stdinIsTTY: prompt, confirm: async () => answer },
  }
  const run = async (...args: string[]) => {
    const program = new Command('vend').exitOverride()
    register(program, ctx)
    out.length = 0
    err.length = 0
    await program.parseAsync(args, { from: 'user' })
    return { out: out.join('\n'), err: err.join('\n') }
  }
  return { home, run }
}

test('wallet import/show: --json has the address and no key material; the keystore is 0600', async (t) => {
  const { home, run } = setup(t)
  const keyFile = join(home, 'key.txt')
  writeFileSync(keyFile, `${KEY}\n`)
  const imported = await run('wallet', 'import', '--key-file', keyFile)
  assert.equal(imported.out, ADDRESS)
  assert.equal(statSync(join(home, 'wallet', 'keystore.json')).mode & 0o777, 0o600)
  const shown = await run('wallet', 'show', '--json')
  assert.deepEqual(JSON.parse(shown.out), { address: ADDRESS, keystore: join(home, 'wallet', 'keystore.json') })
  for (const text of [imported.out, imported.err, shown.out, shown.err]) assert.ok(!text.toLowerCase().includes(KEY.slice(2)), 'no key material printed')
  await assert.rejects(run('wallet', 'import', '--key-file', keyFile), /already exists/)
})

test('wallet create prints only the address; show without a wallet says how to make one', async (t) => {
  const { run } = setup(t)
  await assert.rejects(run('wallet', 'show'), /vend wallet create/)
  const created = await run('wallet', 'create', '--json')
  const info = JSON.parse(created.out)
  assert.deepEqual(Object.keys(info).sort(), ['address', 'keystore'])
  assert.match(info.address, /^0x[0-9a-fA-F]{40}$/)
})

test('wallet export: refuses without --yes when not interactive; asks on a terminal; prints the key only when confirmed', async (t) => {
  const batch = setup(t)
  const keyFile = join(batch.home, 'key.txt')
  writeFileSync(keyFile, KEY)
  await batch.run('wallet', 'import', '--key-file', keyFile)
  await assert.rejects(batch.run('wallet', 'export'), /--yes/)
  assert.equal((await batch.run('wallet', 'export', '--yes')).out, KEY)

  const declined = setup(t, { VEND_WALLET_PASSWORD: 'pw' }, true, false)
  writeFileSync(join(declined.home, 'key.txt'), KEY)
  await declined.run('wallet', 'import', '--key-file', join(declined.home, 'key.txt'))
  const no = await declined.run('wallet', 'export')
  assert.equal(no.out, '')
  assert.match(no.err, /Not exported/)
})

test('no passphrase source and no terminal: a clear error naming the options', async (t) => {
  const { run } = setup(t, {})
  await assert.rejects(run('wallet', 'create'), (err: Error) => {
    assert.match(err.message, /VEND_WALLET_PASSWORD/)
    assert.match(err.message, /--password-file/)
    return true
  })
})
