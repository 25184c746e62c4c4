/**
 * The whole product path through the real CLI and daemon: `stack up --dev`, `sell http`, `vend pay --dev`, then
 * `sell earnings` and `ledger export` reading what the daemon recorded.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { freePort, serve, tempHome, vend, type TestServer } from './helpers/vend.ts'

let home: { home: string; cleanup: () => void }
let upstream: TestServer

before(async () => {
  home = tempHome('vend-pay-e2e-')
  upstream = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ forecast: 'sunny', path: req.url }))
  })
})

after(async () => {
  if (home) {
    await vend(home.home, ['stack', 'down', '--yes'])
    home.cleanup()
  }
  await upstream?.close()
})

test('stack up --dev, sell http, vend pay --dev: paid, settled, and in the earnings', async () => {
  const port = await freePort()
  const up = await vend(home.home, ['stack', 'up', '--dev', '--listen', `127.0.0.1:${port}`])
  assert.equal(up.code, 0, up.stderr)
  const sold = await vend(home.home, ['sell', 'http', 'weather', '--upstream', upstream.url, '--price', '0.01', '--chain', 'local', '--pay-to', '0x90F79bf6EB2c4f870365E785982E1f101E93b906'])
  assert.equal(sold.code, 0, sold.stderr)

  const paid = await vend(home.home, ['pay', '--dev', '--json', `http://127.0.0.1:${port}/services/weather/today`])
  assert.equal(paid.code, 0, paid.stderr)
  const res = JSON.parse(paid.stdout) as { status: number; body: { forecast: string }; receipt: { success: boolean; transaction: string; amount: string; network: string } }
  assert.equal(res.status, 200)
  assert.equal(res.body.forecast, 'sunny')
  assert.equal(res.receipt.success, true)
  assert.equal(res.receipt.amount, '10000')
  assert.equal(res.receipt.network, 'eip155:31337')

  const earned = await vend(home.home, ['sell', 'earnings', '--json'])
  assert.equal(earned.code, 0, earned.stderr)
  assert.deepEqual((JSON.parse(earned.stdout) as { offer: string; status: string; count: number; amount: string }[]).map((r) => [r.offer, r.status, r.count, r.amount]),
    [['default/weather', 'settled', 1, '0.01']])
  const exported = await vend(home.home, ['ledger', 'export', '--format', 'json'])
  assert.equal((JSON.parse(exported.stdout) as { txHash: string }[])[0]!.txHash, res.receipt.transaction)
})
