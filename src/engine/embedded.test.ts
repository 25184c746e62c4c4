import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { openDatabaseReadOnly } from '../state/db.ts'
import { readOfferFile } from '../state/offerStore.ts'
import { readStackConfig } from '../state/stackConfig.ts'
import { controlSocketPath } from './controlSocket.ts'
import { isProcessAlive } from './daemonRecord.ts'
import { embeddedEngine } from './embedded.ts'
import { startDaemon } from './daemon.ts'
import { DaemonStartFailedError } from './errors.ts'
import { eventually, putOffer, startUpstream, tempHome } from './testkit.ts'

const logLines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').flatMap((l) => {
  try { return [JSON.parse(l) as { msg: string; level: string }] } catch { return [] }
})

test('stack up starts a background daemon that serves the offers; down stops it gracefully', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream()
  const engine = embeddedEngine(paths)
  t.after(async () => { await engine.down(); await up.close(); cleanup() })
  putOffer(paths, 'weather', 'default', up.url)

  const first = await engine.up({ listen: '127.0.0.1:0', publicUrl: undefined })
  assert.equal(first.alreadyRunning, false)
  assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.notEqual(first.pid, process.pid)
  assert.equal(readStackConfig(paths).listen, '127.0.0.1:0', 'flags are kept in stack.yaml')
  const again = await engine.up({})
  assert.deepEqual(again, { ...first, alreadyRunning: true })

  const res = await eventually('402 on the offer', async () => {
    const r = await fetch(`${first.url}/services/weather`)
    await r.arrayBuffer()
    return r.status === 402 && r
  })
  assert.ok(res.headers.get('payment-required'))

  // A new offer: waitForOffer returns once the daemon has reconciled this very generation.
  putOffer(paths, 'news', 'default', up.url)
  const generation = readOfferFile(paths, 'default', 'news').generation
  const status = await engine.waitForOffer('default/news', generation, 15_000)
  assert.equal(status?.generation, generation)
  assert.equal(status?.conditions.find((c) => c.type === 'UpstreamHealthy')?.status, 'True', 'new offers are probed before the answer')
  assert.equal(status?.ready, true, 'registration is off for this offer')

  const running = await engine.status()
  assert.equal(running.running, true)
  assert.equal(running.ready, true)
  assert.deepEqual(running.offers?.map((o) => o.key), ['default/news', 'default/weather'])

  assert.deepEqual(await engine.down(), { wasRunning: true })
  assert.equal(isProcessAlive(first.pid), false)
  assert.equal(existsSync(controlSocketPath(paths)), false)
  const stopped = await engine.status()
  assert.equal(stopped.running, false)
  assert.deepEqual(stopped.offers?.map((o) => o.key), ['default/news', 'default/weather'], 'a stopped stack still lists its offers')
  assert.deepEqual(await engine.down(), { wasRunning: false })
  assert.equal(await engine.waitForOffer('default/news', generation, 1000), undefined)
})

test('the next up cleans up after a daemon killed with SIGKILL', async (t) => {
  const { paths, cleanup } = tempHome()
  const engine = embeddedEngine(paths)
  t.after(async () => { await engine.down(); cleanup() })
  const first = await engine.up({ listen: '127.0.0.1:0' })
  process.kill(first.pid, 'SIGKILL')
  await eventually('the daemon gone', () => !isProcessAlive(first.pid))
  assert.equal(existsSync(controlSocketPath(paths)), true, 'a killed daemon leaves its socket behind')
  assert.equal((await engine.status()).running, false)

  const second = await engine.up({})
  assert.equal(second.alreadyRunning, false)
  assert.notEqual(second.pid, first.pid)
  assert.equal((await engine.status()).pid, second.pid)
  assert.ok(logLines(paths.log).some((l) => l.msg === 'Found leftovers of a daemon that did not stop cleanly'))
  // The db the killed daemon had open is intact.
  const db = openDatabaseReadOnly(paths.db)!
  assert.equal((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok')
  db.close()

  // SIGTERM is a graceful stop: socket and record gone, last log line says so.
  process.kill(second.pid, 'SIGTERM')
  await eventually('the daemon stopped by SIGTERM', () => !isProcessAlive(second.pid))
  assert.equal(existsSync(controlSocketPath(paths)), false)
  const last = logLines(paths.log).filter((l) => l.msg.endsWith('daemon')).at(-1) as { msg: string; reason?: string }
  assert.deepEqual([last.msg, last.reason], ['Stopped daemon', 'SIGTERM'])
})

test('a daemon that cannot start is reported with its cause and where the logs are', async (t) => {
  const { paths, cleanup } = tempHome()
  const busy = createServer()
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
  t.after(async () => { busy.close(); cleanup() })
  const port = (busy.address() as AddressInfo).port
  await assert.rejects(embeddedEngine(paths).up({ listen: `127.0.0.1:${port}` }), (err: unknown) =>
    err instanceof DaemonStartFailedError && err.message.includes(`Cannot listen on 127.0.0.1:${port}`) && err.message.includes('vend stack logs'))
  assert.equal(existsSync(controlSocketPath(paths)), false)
  await assert.rejects(embeddedEngine(paths).up({ listen: 'nowhere' }), /Invalid --listen: must be host:port/)
})

test('up during a graceful stop waits for the old daemon to finish, then starts a new one', async (t) => {
  const { paths, cleanup } = tempHome()
  const up = await startUpstream(1500)
  const engine = embeddedEngine(paths)
  t.after(async () => { await engine.down(); await up.close(); cleanup() })
  putOffer(paths, 'slowpoke', 'default', up.url, { routes: [{ path: '/slow', gate: 'free' }] })
  const old = await startDaemon(paths)
  await old.reconcile()
  const inFlight = fetch(`${old.url}/services/slowpoke/slow`).then((r) => r.text())
  await eventually('the request at the upstream', () => up.hits.includes('/slow'))
  const stopping = old.stop('test')
  assert.equal(old.status().stopping, true)

  const fresh = await engine.up({})
  assert.equal(fresh.alreadyRunning, false)
  assert.notEqual(fresh.pid, process.pid)
  assert.equal(await inFlight, 'slow:done', 'the old daemon finished its request first')
  await stopping
})

test('a daemon whose VEND_HOME is deleted stops by itself', async (t) => {
  const { paths, cleanup } = tempHome()
  t.after(cleanup)
  const { pid } = await embeddedEngine(paths).up({})
  cleanup()
  await eventually('the orphaned daemon to exit', () => !isProcessAlive(pid), 30_000)
})
