/**
 * The demo's parts: its offer is a valid paid offer on the dev chain that settles locally and pays a seller that is not
 * the dev buyer; its built-in upstream answers loopback clients only.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_KEYS } from '../devchain/contracts.ts'
import { parseOfferDocuments } from '../offer/parseOffers.ts'
import { resolveOffer } from '../offer/resolveOffer.ts'
import type { Engine } from '../engine/api.ts'
import { homePaths } from '../state/home.ts'
import { offerToYaml } from '../state/offerStore.ts'
import { StackNotInDevModeError } from './errors.ts'
import { DEMO_PAY_TO, demoOffer, loopbackUrl } from './offer.ts'
import { runDemo } from './runDemo.ts'
import { demoUpstream } from './upstream.ts'

test('the demo offer: 0.001 USDC per request on the dev chain, local facilitator, a seller other than the dev buyer, not registered', () => {
  const [doc] = parseOfferDocuments(offerToYaml(demoOffer('0.0.0.0:8402', 'local')), 'demo.yaml')
  assert.ok(doc?.ok, doc && !doc.ok ? doc.problem.message : 'one document')
  const r = resolveOffer(doc.offer)
  assert.equal(r.key, 'demo/hello')
  assert.equal(r.path, '/demo/hello')
  assert.equal(r.price.atomic, 1000n)
  assert.equal(r.chain.caip2, 'eip155:31337')
  assert.equal(doc.offer.spec.payment.facilitator, 'local')
  assert.equal(doc.offer.spec.registration.enabled, false)
  assert.equal(doc.offer.spec.upstream?.url, 'http://127.0.0.1:8402/_vend/demo')
  const devAccounts = Object.values(DEV_KEYS).map((k) => privateKeyToAccount(k).address)
  assert.ok(!devAccounts.includes(DEMO_PAY_TO), 'the seller is none of the dev chain\'s own accounts')
  assert.equal(resolveOffer(parseOk(demoOffer('127.0.0.1:9', 'base-sepolia'))).chain.caip2, 'eip155:84532')
})

function parseOk(offer: unknown) {
  const [doc] = parseOfferDocuments(offerToYaml(offer), 'demo.yaml')
  assert.ok(doc?.ok)
  return doc.offer
}

test('the demo upstream is reached on the listener\'s loopback address', () => {
  assert.equal(loopbackUrl('127.0.0.1:8402'), 'http://127.0.0.1:8402')
  assert.equal(loopbackUrl('0.0.0.0:8402'), 'http://127.0.0.1:8402')
  assert.equal(loopbackUrl('[::]:8402'), 'http://[::1]:8402')
  assert.equal(loopbackUrl('[::1]:9000'), 'http://[::1]:9000')
})

test('the built-in upstream answers loopback clients on /_vend/demo/* and nobody else', async (t) => {
  let remote: string | undefined
  const server = createServer((req, res) => {
    const seen = remote === undefined ? req : Object.defineProperty(req, 'socket', { value: { remoteAddress: remote } }) as IncomingMessage
    if (!demoUpstream(seen, res, new URL(req.url ?? '/', 'http://x'))) res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const health = await fetch(`${base}/_vend/demo/health`)
  assert.deepEqual([health.status, await health.json()], [200, { ok: true }])
  const hello = await fetch(`${base}/_vend/demo/weather?x=1`, { method: 'POST', body: 'ignored' })
  const body = await hello.json() as { message: string; method: string; path: string }
  assert.equal(hello.status, 200)
  assert.match(body.message, /paid for with an x402 micropayment/)
  assert.deepEqual([body.method, body.path], ['POST', '/weather'])
  assert.equal((await fetch(`${base}/_vend/demo`).then((r) => r.json()) as { path: string }).path, '/')
  assert.equal((await fetch(`${base}/_vend/demonstration`)).status, 404)

  remote = '203.0.113.7' // a client on another machine (the stack listening on 0.0.0.0)
  assert.equal((await fetch(`${base}/_vend/demo/health`)).status, 404)
  assert.equal((await fetch(`${base}/_vend/demo`)).status, 404)
})

test('a stack running without a dev chain is left as it is, with a clear way to restart it in dev mode', async () => {
  const calls: string[] = []
  const engine: Engine = {
    status: async () => { calls.push('status'); return { running: true, pid: 1, listen: '127.0.0.1:8402' } },
    up: async () => { calls.push('up'); throw new Error('up must not be called') },
    down: async () => { calls.push('down'); return { wasRunning: true } },
    waitForOffer: async () => undefined,
  }
  await assert.rejects(runDemo({ engine, paths: homePaths('/nonexistent/vend-home') }), (err: unknown) => {
    assert.ok(err instanceof StackNotInDevModeError)
    assert.match(err.line(), /running without a dev chain.*`vend stack down` then `vend demo`/)
    return true
  })
  assert.deepEqual(calls, ['status'])
})
