/**
 * The buyer and bookkeeping commands against a real paid stack: `vend pay` pays with @x402/fetch and prints the
 * receipt (never the key), `vend sell earnings` and `vend ledger export` read the ledger read-only.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { Command } from 'commander'
import * as earnings from '../src/cli/commands/earnings.ts'
import * as ledger from '../src/cli/commands/ledger.ts'
import * as pay from '../src/cli/commands/pay.ts'
import type { CliContext } from '../src/cli/context.ts'
import { importWallet } from '../src/identity/wallet.ts'
import { homePaths } from '../src/state/home.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { paidOffer, startPaidStack, startUpstream, type PaidStack, type Upstream } from '../src/payments/testStack.ts'

let chain: TestChain
let upstream: Upstream
let stack: PaidStack
let home: string

before(async () => {
  chain = await startTestChain()
  upstream = await startUpstream({})
  home = mkdtempSync(join(tmpdir(), 'vend-home-'))
  stack = await startPaidStack({ chain, dir: homePaths(home).stateDir, offers: [paidOffer(chain, { name: 'weather', upstreamUrl: upstream.url })] })
})

after(async () => {
  await stack?.stop()
  await upstream?.close()
  await chain?.stop()
  if (home) rmSync(home, { recursive: true, force: true })
})

async function vend(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ out: string; err: string }> {
  let out = ''
  let err = ''
  const ctx: CliContext = {
    io: { out: (t) => { out += `${t}\n` }, err: (t) => { err += `${t}\n` }, stdoutIsTTY: false, stdinIsTTY: false, confirm: async () => false },
    env: { VEND_HOME: home, ...env }, paths: () => homePaths(home), canPrompt: () => false,
  }
  const program = new Command('vend').exitOverride()
  program.command('sell')
  for (const m of [pay, earnings, ledger]) m.register(program, ctx)
  await program.parseAsync(args, { from: 'user' })
  return { out, err }
}

test('vend pay pays (key from the environment or a keystore), prints the body and receipt, never the key; earnings and export read the ledger', async () => {
  const url = `${stack.gateway.url}/services/weather/today`
  const buyer0 = await chain.balanceOf(chain.buyer.address)
  const r = await vend(['pay', url, '--json'], { VEND_PAY_KEY: chain.buyer.privateKey })
  const res = JSON.parse(r.out) as { status: number; body: unknown; receipt: { success: boolean; transaction: string; amount: string; network: string } }
  assert.equal(res.status, 200)
  assert.deepEqual(res.body, { ok: true, path: '/today' })
  assert.equal(res.receipt.success, true)
  assert.equal(res.receipt.amount, '10000')
  assert.equal(res.receipt.network, chain.caip2)
  assert.equal(buyer0 - await chain.balanceOf(chain.buyer.address), 10_000n)
  const keyHex = chain.buyer.privateKey.slice(2).toLowerCase()
  assert.ok(!(r.out + r.err).toLowerCase().includes(keyHex))

  const keystore = join(home, 'buyer.json')
  const pwFile = join(home, 'pw.txt')
  writeFileSync(pwFile, 'correct horse\n')
  await importWallet({ ...homePaths(home), keystore }, chain.buyer.privateKey, 'correct horse', { scryptN: 1024 })
  const plain = await vend(['pay', url, '--keystore', keystore, '--password-file', pwFile])
  assert.equal(JSON.parse(plain.out).ok, true)
  assert.match(plain.err, /Paid 0\.01 .* on eip155:31337, transaction 0x[0-9a-f]{64}/)

  await assert.rejects(vend(['pay', url, '--max-amount', '0.001'], { VEND_PAY_KEY: chain.buyer.privateKey }), /above --max-amount 0\.001/)
  await assert.rejects(vend(['pay', url], { VEND_PAY_KEY: chain.other.privateKey }), /refused \(HTTP 402\): invalid_exact_evm_insufficient_balance/)
  assert.equal(buyer0 - await chain.balanceOf(chain.buyer.address), 20_000n)

  const sums = JSON.parse((await vend(['sell', 'earnings', 'weather', '--json'])).out) as { offer: string; status: string; count: number; amount: string }[]
  assert.deepEqual(sums.map((s) => [s.offer, s.status, s.count, s.amount]), [['default/weather', 'settled', 2, '0.02']])
  const table = (await vend(['sell', 'earnings'])).out
  assert.match(table, /default\/weather\s+settled\s+2\s+0\.02/)

  const csv = (await vend(['ledger', 'export'])).out.trim().split('\n')
  assert.equal(csv.length, 3)
  assert.ok(csv[0]!.startsWith('id,direction,offer,'))
  assert.ok(csv[1]!.includes(res.receipt.transaction))
  const rows = JSON.parse((await vend(['ledger', 'export', '--format', 'json'])).out) as { status: string; amount: string }[]
  assert.deepEqual(rows.map((x) => [x.status, x.amount]), [['settled', '10000'], ['settled', '10000']])
})
