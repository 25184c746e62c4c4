/**
 * `vend demo`, the README's first command, run as a user runs it (bin/vend in a child process, a fresh VEND_HOME):
 * it starts the stack with its dev chain, pays the demo offer, and prints balance changes of exactly the price that
 * match the chain and a transaction that moved the USDC. Run again it reuses everything and pays again; after
 * `stack down` it brings the same chain back; `stack down` stops the chain too.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { createPublicClient, erc20Abi, http, parseEventLogs, type Hex } from 'viem'
import { isAlive } from '../src/devchain/anvil.ts'
import { readDevChain, usdcBalance, type DevChainInfo } from '../src/devchain/devChain.ts'
import { readRecord } from '../src/devchain/record.ts'
import type { DemoSummary } from '../src/demo/runDemo.ts'
import { DEMO_PAY_TO } from '../src/demo/offer.ts'
import { homePaths } from '../src/state/home.ts'
import { freePort, stopDaemon, tempHome, vend } from './helpers/vend.ts'

const PRICE = 1000n // 0.001 USDC
let home: string
let cleanup: () => void
let listen: string

before(async () => {
  ({ home, cleanup } = tempHome('vend-demo-e2e-'))
  listen = `127.0.0.1:${await freePort()}`
})

after(async () => {
  if (existsSync(join(home, 'state', 'daemon.json'))) await stopDaemon(home)
  const pid = readRecord(homePaths(home))?.pid
  if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL')
  cleanup()
})

async function demoJson(): Promise<DemoSummary> {
  const r = await vend(home, ['demo', '--json'])
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as DemoSummary
}

function chain(): DevChainInfo {
  const info = readDevChain(homePaths(home))
  assert.ok(info, 'the dev chain is recorded')
  return info
}

/** The transaction is mined, succeeded, and moved exactly the price from the buyer to the demo seller in USDC. */
async function assertTransfer(info: DevChainInfo, tx: string, from: string): Promise<void> {
  const client = createPublicClient({ transport: http(info.rpcUrl) })
  const receipt = await client.getTransactionReceipt({ hash: tx as Hex })
  assert.equal(receipt.status, 'success')
  const transfers = parseEventLogs({ abi: erc20Abi, eventName: 'Transfer', logs: receipt.logs })
    .filter((l) => l.address.toLowerCase() === info.usdc.address.toLowerCase())
  assert.deepEqual(transfers.map((l) => [l.args.from, l.args.to, l.args.value]), [[from, DEMO_PAY_TO, PRICE]])
}

test('vend demo pays the demo offer on the dev chain, twice, and survives a restart', async () => {
  // First run, as printed for a person: a fresh stack, the 402 terms, a paid 200 with its transaction and balances.
  const first = await vend(home, ['demo', '--listen', listen])
  assert.equal(first.code, 0, first.stderr)
  const info = chain()
  const out = first.stdout
  assert.match(out, /Stack is up \(pid \d+\)/)
  assert.match(out, /HTTP 402 Payment Required/)
  assert.match(out, /price\s+0\.001 USDC \(1000 atomic units/)
  assert.match(out, /network\s+local \(eip155:31337\)/)
  assert.match(out, new RegExp(`asset\\s+USDC at ${info.usdc.address}`))
  assert.match(out, new RegExp(`pay to\\s+${DEMO_PAY_TO}`))
  assert.match(out, /HTTP 200 OK/)
  assert.match(out, /"message":"Hello from Vend!/)
  const tx1 = /transaction\s+(0x[0-9a-f]{64})/.exec(out)?.[1]
  assert.ok(tx1, out)
  const row = (who: string) => new RegExp(`${who}\\s+(0x[0-9a-fA-F]{40})\\s+([\\d.]+)\\s+([\\d.]+)\\s+([-+][\\d.]+)`).exec(out)
  const [, buyerAddr, , buyerAfter, buyerDelta] = row('buyer') ?? []
  const [, sellerAddr, sellerBefore, sellerAfter, sellerDelta] = row('seller') ?? []
  assert.equal(buyerAddr, info.buyer.address)
  assert.equal(sellerAddr, DEMO_PAY_TO)
  assert.notEqual(sellerAddr, buyerAddr)
  assert.equal(buyerDelta, '-0.001')
  assert.equal(sellerDelta, '+0.001')
  assert.equal(sellerBefore, '0')
  assert.equal(buyerAfter, '999.999') // the dev buyer starts with 1,000 USDC
  assert.equal(sellerAfter, '0.001')
  assert.equal(await usdcBalance(info, info.buyer.address), 999_999_000n)
  assert.equal(await usdcBalance(info, DEMO_PAY_TO), PRICE)
  await assertTransfer(info, tx1, info.buyer.address)
  assert.match(out, new RegExp(`Storefront:\\s+http://${listen}/`))
  assert.ok(!(first.stdout + first.stderr).toLowerCase().includes(info.buyer.privateKey.slice(2).toLowerCase()), 'no private key in the output')

  // Second run: reuses the stack, the chain and the offer, and pays again.
  const second = await demoJson()
  assert.equal(second.stack.reused, true)
  assert.equal(second.offer.reused, true)
  assert.equal(second.devChain.rpcUrl, info.rpcUrl)
  assert.equal(second.stack.listen, listen)
  assert.equal(second.paid.status, 200)
  assert.notEqual(second.paid.transaction, tx1)
  assert.deepEqual(
    [second.balances.buyer.beforeAtomic, second.balances.buyer.afterAtomic, second.balances.buyer.deltaAtomic, second.balances.buyer.delta],
    ['999999000', '999998000', '-1000', '-0.001'],
  )
  assert.deepEqual(
    [second.balances.seller.beforeAtomic, second.balances.seller.afterAtomic, second.balances.seller.deltaAtomic, second.balances.seller.delta],
    ['1000', '2000', '1000', '+0.001'],
  )
  assert.equal(await usdcBalance(info, info.buyer.address), BigInt(second.balances.buyer.afterAtomic))
  assert.equal(await usdcBalance(info, DEMO_PAY_TO), BigInt(second.balances.seller.afterAtomic))
  await assertTransfer(info, second.paid.transaction, info.buyer.address)
  assert.deepEqual(
    [second.unpaid.status, second.unpaid.amount, second.unpaid.network, second.unpaid.payTo, second.unpaid.asset],
    [402, '1000', 'eip155:31337', DEMO_PAY_TO, info.usdc.address],
  )
  assert.ok(!JSON.stringify(second).toLowerCase().includes(info.buyer.privateKey.slice(2).toLowerCase()), 'no private key in the JSON')

  // The printed storefront URLs list the demo offer.
  type Services = { services: { namespace: string; name: string; endpoint: string; priceAtomicUnits: string; payTo: string }[] }
  const catalog = await fetch(second.urls.services).then((r) => r.json()) as Services
  assert.deepEqual(catalog.services.map((x) => [x.namespace, x.name, x.endpoint, x.priceAtomicUnits, x.payTo]), [['demo', 'hello', second.urls.offer, '1000', DEMO_PAY_TO]])
  assert.equal((await fetch(second.urls.storefront)).status, 200)

  // The built-in upstream answers loopback clients (the gateway itself); its paid offer is the way in.
  const health = await fetch(`http://${listen}/_vend/demo/health`)
  assert.equal(health.status, 200)
  await health.body?.cancel()

  // After stack down the demo brings the same chain (balances kept) and offer back.
  const anvilPid = readRecord(homePaths(home))?.pid
  assert.ok(anvilPid !== undefined && isAlive(anvilPid))
  assert.equal((await vend(home, ['stack', 'down', '--yes'])).code, 0)
  assert.equal(isAlive(anvilPid), false, 'stack down stops the dev chain')
  const third = await demoJson()
  assert.equal(third.stack.reused, false)
  assert.equal(third.offer.reused, true)
  assert.equal(third.balances.buyer.beforeAtomic, '999998000')
  assert.equal(third.balances.seller.afterAtomic, '3000')
  assert.equal(third.balances.buyer.deltaAtomic, '-1000')

  // stack down stops the daemon and the chain.
  const down = await vend(home, ['stack', 'down', '--yes'])
  assert.equal(down.code, 0, down.stderr)
  const pid = readRecord(homePaths(home))?.pid
  assert.equal(pid, undefined, 'the chain record has no running pid')
  assert.equal(await fetch(`http://${listen}/healthz`).then(() => 'answered', () => 'refused'), 'refused')
})
