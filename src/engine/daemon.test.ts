import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { dirname, join } from 'node:path'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import { openDatabaseReadOnly } from '../state/db.ts'
import { homePaths, type HomePaths } from '../state/home.ts'
import { StackConfig, writeStackConfig } from '../state/stackConfig.ts'
import { controlRequest, controlSocketPath } from './controlSocket.ts'
import { startDaemon } from './daemon.ts'
import { DaemonAlreadyRunningError } from './errors.ts'
import { eventually, putOffer, startUpstream, tempHome, UNREACHABLE_FACILITATOR } from './testkit.ts'
import type { DaemonStatus } from './api.ts'

const get = (url: string) => fetch(url, { headers: { accept: 'application/json' } })

test('the daemon serves every offer, sees new files at once, and keeps serving around a corrupt file', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream()
  t.after(async () => { await up.close(); cleanup() })
  putOffer(paths, 'weather', 'default', up.url)
  putOffer(paths, 'weather', 'team-b', up.url, { path: '/services/weather-b', payment: { network: 'base-sepolia', payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', price: { perRequest: '12.5' } } })
  // No periodic resync during this test: only the file watcher can notice new files.
  const daemon = await startDaemon(paths, { healthIntervalMs: 200, resyncIntervalMs: 3_600_000 })
  t.after(() => daemon.stop())

  const status = daemon.status()
  assert.equal(status.ready, true)
  assert.deepEqual(status.offers?.map((o) => o.key).sort(), ['default/weather', 'team-b/weather'])

  const amountAt = async (path: string) => {
    const res = await get(`${daemon.url}${path}`)
    await res.arrayBuffer()
    if (res.status !== 402) return undefined
    return decodePaymentRequiredHeader(res.headers.get('payment-required')!).accepts[0]!.amount
  }
  assert.equal(await eventually('402 on /services/weather', () => amountAt('/services/weather')), '1000')
  assert.equal(await eventually('402 on /services/weather-b', () => amountAt('/services/weather-b')), '12500000')

  // A new file is served without any command, also in a namespace directory that did not exist.
  putOffer(paths, 'news', 'default', up.url)
  assert.equal(await eventually('402 on a new offer', () => amountAt('/services/news')), '1000')
  putOffer(paths, 'maps', 'brand-new', up.url)
  assert.equal(await eventually('402 on an offer in a new namespace', () => amountAt('/services/maps')), '1000')

  // A corrupt file: reported with path, line and reason; the others keep serving.
  writeFileSync(join(paths.offersDir, 'default', 'broken.yaml'), 'apiVersion: vend.dev/v1alpha1\nkind: ServiceOffer\nmetadata:\n  name: broken\nspec: [oops\n')
  const problem = await eventually('the corrupt file in status', () => daemon.status().problems?.find((p) => p.file === 'offers/default/broken.yaml'))
  assert.equal(typeof problem.line, 'number')
  assert.match(problem.message, /invalid YAML/)
  assert.equal(await amountAt('/services/weather'), '1000')
  assert.equal(await amountAt('/services/news'), '1000')
  const broken = daemon.status().offers?.find((o) => o.key === 'default/broken')
  assert.equal(broken?.conditions.find((c) => c.type === 'Valid')?.status, 'False')

  // Storefront lists the published offers.
  const services = await (await get(`${daemon.url}/api/services.json`)).json() as { services: { name: string }[] }
  assert.equal(services.services.length, 4)
})

test('statuses are written to the db only when they change', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream()
  t.after(async () => { await up.close(); cleanup() })
  putOffer(paths, 'weather', 'default', up.url)
  const daemon = await startDaemon(paths, { healthIntervalMs: 100 })
  t.after(() => daemon.stop())
  await daemon.reconcile()
  const db = openDatabaseReadOnly(paths.db)!
  t.after(() => db.close())
  const rows = () => db.prepare('SELECT key, updated_at, status FROM offer_status').all() as { key: string; updated_at: string; status: string }[]
  const before = rows()
  assert.equal(before.length, 1)
  assert.match(before[0]!.status, /"UpstreamHealthy","status":"True"/)
  await new Promise((r) => setTimeout(r, 20))
  await daemon.reconcile()
  await daemon.reconcile()
  assert.deepEqual(rows(), before)

  await up.close()
  await eventually('the upstream outage in the db', async () => { await daemon.reconcile(); return rows()[0]!.updated_at !== before[0]!.updated_at })
  assert.match(rows()[0]!.status, /"UpstreamHealthy","status":"False"/)
})

function statusKeysInDb(paths: HomePaths): string[] {
  const db = openDatabaseReadOnly(paths.db)!
  try {
    return (db.prepare('SELECT key FROM offer_status ORDER BY key').all() as { key: string }[]).map((r) => r.key)
  } finally {
    db.close()
  }
}

test('the statuses of the first pass reach the db after ready', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream()
  t.after(async () => { await up.close(); cleanup() })
  for (let i = 0; i < 30; i++) putOffer(paths, `svc-${i}`, 'default', up.url)
  const daemon = await startDaemon(paths)
  t.after(() => daemon.stop())
  await eventually('the statuses in the db', () => statusKeysInDb(paths).length === 30)
  assert.deepEqual(statusKeysInDb(paths), Array.from({ length: 30 }, (_, i) => `default/svc-${i}`).sort())
})

test('a daemon stopped right after ready has written every status', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream()
  t.after(async () => { await up.close(); cleanup() })
  for (let i = 0; i < 30; i++) putOffer(paths, `svc-${i}`, 'default', up.url)
  await (await startDaemon(paths)).stop()
  assert.deepEqual(statusKeysInDb(paths), Array.from({ length: 30 }, (_, i) => `default/svc-${i}`).sort())
})

test('one daemon per home: a second one is refused, a stale socket is cleaned', async (t) => {
  const { paths, cleanup } = tempHome()
  t.after(cleanup)
  const first = await startDaemon(paths)
  await assert.rejects(startDaemon(paths), (err: unknown) => err instanceof DaemonAlreadyRunningError && /vend stack down/.test(err.message))
  assert.equal((await controlRequest<DaemonStatus>(first.socket, 'GET', '/status')).body.pid, process.pid, 'the first daemon is unharmed')
  await first.stop()
  assert.equal(existsSync(first.socket), false)

  // A crashed daemon leaves its socket file behind: a plain file in its place stands in for it.
  writeFileSync(first.socket, '')
  const second = await startDaemon(paths)
  t.after(() => second.stop())
  assert.equal(second.status().ready, true)
  assert.match(readFileSync(paths.log, 'utf8'), /"msg":"Removed a stale control socket"/)
})

test('shutdown over the control socket lets an in-flight request finish', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream(400)
  t.after(async () => { await up.close(); cleanup() })
  putOffer(paths, 'slowpoke', 'default', up.url, { routes: [{ path: '/slow', gate: 'free' }] })
  const daemon = await startDaemon(paths, { healthIntervalMs: 100 })
  await eventually('the free route served', async () => (await fetch(`${daemon.url}/services/slowpoke/slow`).then((r) => r.text())) === 'slow:done')

  const body = new Promise<{ status: number; text: string }>((resolve, reject) => {
    request(`${daemon.url}/services/slowpoke/slow`, (res) => {
      let text = ''
      res.on('data', (c) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    }).on('error', reject).end()
  })
  const hits = up.hits.length
  await eventually('the request at the upstream', () => up.hits.length > hits)
  const reply = await controlRequest(daemon.socket, 'POST', '/shutdown')
  assert.equal(reply.status, 202)
  assert.deepEqual(await body, { status: 200, text: 'slow:done' })
  await daemon.stopped
  assert.equal(existsSync(daemon.socket), false)
  await assert.rejects(fetch(`${daemon.url}/healthz`))
  const log = readFileSync(paths.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: string; t: string })
  assert.ok(log.some((l) => l.msg === 'Reconciled offers'))
  assert.equal(log.at(-1)!.msg, 'Stopped daemon')
})

test('a deep VEND_HOME gets a short control socket under the temp dir; the socket is private', async (t) => {
  const { paths: base, cleanup } = tempHome()
  t.after(cleanup)
  const deep = join(base.root, 'a-rather-long-directory-name-for-testing'.repeat(3))
  mkdirSync(deep)
  const paths = homePaths(deep)
  writeStackConfig(paths, StackConfig.parse({ listen: '127.0.0.1:0', facilitators: [{ network: '*', url: UNREACHABLE_FACILITATOR }] }))
  const socket = controlSocketPath(paths)
  assert.notEqual(socket, paths.socket)
  assert.ok(Buffer.byteLength(socket) < 104 && !socket.startsWith(deep))
  assert.equal(controlSocketPath(homePaths(deep)), socket, 'derived from VEND_HOME, so every client finds it')

  const daemon = await startDaemon(paths)
  t.after(() => daemon.stop())
  assert.equal(daemon.socket, socket)
  assert.equal(statSync(socket).mode & 0o777, 0o600)
  assert.equal(statSync(dirname(socket)).mode & 0o777, 0o700)
  assert.equal((await controlRequest<DaemonStatus>(socket, 'GET', '/status')).body.ready, true)
  assert.match(readFileSync(paths.log, 'utf8'), new RegExp(`"socket":"${socket}"`))
})

test('inference offers: the upstream model list decides ModelReady and UpstreamHealthy', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream()
  t.after(async () => { await up.close(); cleanup() })
  const inference = (model: string) => ({
    type: 'inference', model: { name: model },
    payment: { network: 'base-sepolia', payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', price: { perMTok: '1' } },
  })
  putOffer(paths, 'chat', 'default', `${up.url}/v1`, inference('tiny-chat'))
  putOffer(paths, 'other', 'default', up.url, inference('not-served'))
  const daemon = await startDaemon(paths)
  t.after(() => daemon.stop())
  await daemon.reconcile()
  const cond = (key: string, type: string) => daemon.status().offers?.find((o) => o.key === key)?.conditions.find((c) => c.type === type)
  assert.equal(cond('default/chat', 'ModelReady')?.status, 'True')
  assert.equal(cond('default/chat', 'UpstreamHealthy')?.status, 'True')
  assert.equal(daemon.status().offers?.find((o) => o.key === 'default/chat')?.operationallyReady, true)
  assert.equal(cond('default/other', 'ModelReady')?.reason, 'ModelNotFound')
  assert.match(cond('default/other', 'ModelReady')?.message ?? '', /tiny-chat/)
  assert.ok(!up.hits.includes('/health'), 'inference upstreams are not asked for /health')
  const body = JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }] })
  const res = await fetch(`${daemon.url}/services/chat/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  await res.arrayBuffer()
  assert.equal(res.status, 402)
})

test('stack up --dev: the daemon starts the dev chain before the first pass and settles on it locally', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream()
  t.after(async () => {
    const { stopDevChain } = await import('../devchain/devChain.ts')
    await stopDevChain(paths)
    await up.close()
    cleanup()
  })
  writeStackConfig(paths, StackConfig.parse({ listen: '127.0.0.1:0', dev: { enabled: true } }))
  putOffer(paths, 'weather', 'default', up.url, { payment: { network: 'local', payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', price: { perRequest: '0.25' } } })
  const daemon = await startDaemon(paths)
  t.after(() => daemon.stop())
  const status = daemon.status()
  assert.equal(status.devChain?.chainId, 31337)
  assert.match(status.devChain?.rpcUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+/)
  const gate = status.offers?.[0]?.conditions.find((c) => c.type === 'PaymentGateReady')
  assert.equal(gate?.status, 'True', gate?.message)
  const res = await eventually('402 on the dev offer', async () => {
    const r = await fetch(`${daemon.url}/services/weather`)
    await r.arrayBuffer()
    return r.status === 402 && r
  })
  const accepts = decodePaymentRequiredHeader(res.headers.get('payment-required')!).accepts[0]!
  assert.equal(accepts.network, 'eip155:31337')
  assert.equal(accepts.amount, '250000')

  // An offer that registers: the stack identity observes the dev chain (no wallet password: pending, and why).
  putOffer(paths, 'listed', 'default', up.url, { registration: { enabled: true }, payment: { network: 'local', payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', price: { perRequest: '1' } } })
  await daemon.reconcile()
  const registered = await eventually('a Registered observation from the identity', () => {
    const c = daemon.status().offers?.find((o) => o.key === 'default/listed')?.conditions.find((x) => x.type === 'Registered')
    return c && c.reason !== 'Pending' && c
  })
  assert.equal(registered.reason, 'AwaitingRegistration')
  assert.match(registered.message, /wallet/)
  const file = await (await fetch(`${daemon.url}/.well-known/agent-registration.json`)).json() as { type: string }
  assert.match(file.type, /eip-8004/)
})

test('a drain starts and ends on time without any file change', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream()
  t.after(async () => { await up.close(); cleanup() })
  const drainAt = new Date(Date.now() + 1500).toISOString()
  putOffer(paths, 'leaving', 'default', up.url, { drainAt, drainGracePeriod: '1s' })
  // No periodic resync: only the daemon's own drain timer can move the offer along.
  const daemon = await startDaemon(paths, { resyncIntervalMs: 3_600_000 })
  t.after(() => daemon.stop())
  const draining = () => daemon.offer('default/leaving')?.conditions.find((c) => c.type === 'Draining')
  assert.equal(draining()?.reason, 'Active')
  await eventually('the drain to start', () => draining()?.reason === 'Draining')
  assert.equal((await fetch(`${daemon.url}/services/leaving`)).status, 402, 'still served while draining')
  await eventually('the drain to end', () => draining()?.reason === 'Drained')
  assert.equal(daemon.offer('default/leaving')?.conditions.find((c) => c.type === 'RoutePublished')?.status, 'False')
  assert.notEqual((await fetch(`${daemon.url}/services/leaving`)).status, 402)
})
