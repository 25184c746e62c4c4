import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { BaseError } from '../../errors/base.ts'
import { chainClients } from '../../devchain/contracts.ts'
import { ensureDevChain, stopDevChain, usdcBalance } from '../../devchain/devChain.ts'
import { homePaths } from '../../state/home.ts'
import type { CliContext } from '../context.ts'
import { register } from './dev.ts'

const RECIPIENT = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'

function setup(t: { after: (fn: () => Promise<void> | void) => void }) {
  const home = mkdtempSync(join(tmpdir(), 'vend-dev-cli-'))
  const paths = homePaths(home)
  t.after(async () => {
    await stopDevChain(paths)
    rmSync(home, { recursive: true, force: true })
  })
  const out: string[] = []
  const ctx: CliContext = {
    env: {}, paths: () => paths, canPrompt: () => false,
    io: { out: (s) => out.push(s), err: () => {}, stdoutIsTTY: false, stdinIsTTY: false, confirm: async () => false },
  }
  const run = async (...args: string[]) => {
    const program = new Command('vend').exitOverride()
    register(program, ctx)
    out.length = 0
    await program.parseAsync(args, { from: 'user' })
    return out.join('\n')
  }
  return { paths, run }
}

test('vend dev info/fund without a dev chain, or with a bad address or amount: one clear line each', async (t) => {
  const { run } = setup(t)
  const noChain = (e: unknown) => e instanceof BaseError && e.line() === 'No dev chain. Run `vend stack up --dev` first.'
  await assert.rejects(run('dev', 'info'), noChain)
  await assert.rejects(run('dev', 'fund', RECIPIENT, '5'), noChain)
  await assert.rejects(run('dev', 'fund', '0x1234', '5'), /Invalid address "0x1234"/)
  await assert.rejects(run('dev', 'fund', RECIPIENT, '-5'), /Invalid amount "-5"/)
  await assert.rejects(run('dev', 'fund', RECIPIENT, '0.0000001'), /has 7 decimals but the asset has only 6/)
  await assert.rejects(run('dev', 'fund', RECIPIENT, '0'), /Nothing to fund/)
})

test('vend dev info shows the chain and the dev buyer; vend dev fund mints USDC and adds ETH', async (t) => {
  const { paths, run } = setup(t)
  const info = await ensureDevChain(paths)
  const shown = JSON.parse(await run('dev', 'info', '--json'))
  assert.deepEqual(shown, {
    rpcUrl: info.rpcUrl, chainId: 31337, network: 'local', usdc: info.usdc, buyer: info.buyer, identityRegistry: info.identityRegistry,
  })
  assert.match(await run('dev', 'info'), new RegExp(`RPC URL: +${info.rpcUrl}`))

  const eth = () => chainClients(info.rpcUrl, info.chainId).pub.getBalance({ address: RECIPIENT })
  const ethBefore = await eth()
  const printed = await run('dev', 'fund', RECIPIENT, '2.5', '--eth', '0.25')
  assert.match(printed, /^Minted 2\.5 USDC to 0x90F79bf6EB2c4f870365E785982E1f101E93b906 \(tx 0x[0-9a-f]{64}\)\.\nAdded 0\.25 ETH/)
  assert.equal(await usdcBalance(info, RECIPIENT), 2_500_000n)
  assert.equal(await eth() - ethBefore, 250_000_000_000_000_000n)
})
