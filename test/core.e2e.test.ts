/**
 * [core] acceptance, end to end through the real bin/vend: offers are declarative files that survive
 * `stack down` / `stack up`; update and delete are durable; a corrupt file is reported and isolated;
 * bad input never writes anything and always gives one line on stderr.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import { eventually, freePort, startFacilitator, startUpstream, stopDaemon, tempHome, vend, type VendResult } from './helpers/vend.ts'

const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const BASE_SEPOLIA = 'eip155:84532'

function ok(r: VendResult, what: string): VendResult {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}): ${r.stderr}`)
  return r
}

/** One line on stderr, non-zero exit, nothing on stdout. */
function oneLineError(r: VendResult, pattern: RegExp, what: string): void {
  assert.notEqual(r.code, 0, `${what}: expected a failure, got exit 0`)
  assert.equal(r.stdout, '', `${what}: stdout must stay empty`)
  const lines = r.stderr.split('\n').filter(Boolean)
  assert.equal(lines.length, 1, `${what}: expected one line on stderr, got:\n${r.stderr}`)
  assert.match(lines[0]!, /^vend: /, what)
  assert.match(lines[0]!, pattern, what)
}

type Challenge = { status: number; amount?: string; payTo?: string; network?: string }

/** What a buyer sees on a paid path without paying: the status and the decoded x402 v2 challenge. */
async function challenge(base: string, path: string): Promise<Challenge> {
  const res = await fetch(base + path)
  await res.arrayBuffer()
  const header = res.headers.get('payment-required')
  if (res.status !== 402 || !header) return { status: res.status }
  const pr = decodePaymentRequiredHeader(header)
  const a = pr.accepts[0]!
  return { status: 402, amount: a.amount, payTo: a.payTo, network: a.network }
}

test('bad sell input: non-zero exit, one line on stderr, nothing written', async () => {
  const { home, cleanup } = tempHome()
  try {
    const base = ['sell', 'http', 'weather', '--upstream', 'http://127.0.0.1:9', '--price', '0.001', '--pay-to', ALICE]
    const without = (flag: string) => { const a = [...base]; a.splice(a.indexOf(flag), 2); return a }
    const set = (flag: string, value: string) => base.map((v, i) => (base[i - 1] === flag ? value : v))
    const cases: [string, string[], RegExp][] = [
      ['missing --upstream', without('--upstream'), /--upstream is required/],
      ['bad --price', set('--price', '1,5'), /Invalid --price "1,5"/],
      ['7-decimal price', set('--price', '0.0000001'), /--price "0.0000001": it has 7 decimals/],
      ['bad address', set('--pay-to', '0x1234'), /Invalid --pay-to "0x1234"/],
      ['unknown chain', [...base, '--chain', 'solana'], /Unknown chain "solana" for --chain/],
      ['reserved path', [...base, '--path', '/api/x'], /--path "\/api\/x": \/api\/\* is reserved/],
      ['--no-register with --register-name', [...base, '--no-register', '--register-name', 'W'], /--no-register cannot be combined with --register-name/],
      ['unknown flag', [...base, '--prize', '1'], /unknown option '--prize'/],
      ['no recipient', without('--pay-to'), /--pay-to is required.*VEND_PAY_TO/],
    ]
    const results = await Promise.all(cases.map(([, args]) => vend(home, args)))
    cases.forEach(([what, , pattern], i) => oneLineError(results[i]!, pattern, what))
    assert.equal(results[0]!.code, 2, 'usage errors exit 2')

    const badYaml = 'apiVersion: vend.dev/v1alpha1\nkind: ServiceOffer\nmetadata: {name: a\n'
    const oneGoodOneBad = [
      offerYaml('good', 'default', '0.001', '/services/good'),
      offerYaml('bad', 'default', '0.001', '/services/bad').replace('network: base-sepolia', 'network: solana'),
    ].join('---\n').replaceAll('UPSTREAM', 'http://127.0.0.1:9')
    const [yamlErr, mixed] = await Promise.all([vend(home, ['apply', '-f', '-'], { input: badYaml }), vend(home, ['apply', '-f', '-'], { input: oneGoodOneBad })])
    oneLineError(yamlErr, /<stdin>:\d+: invalid YAML/, 'bad YAML in apply')
    oneLineError(mixed, /<stdin>:\d+: spec\.payment\.network: unknown chain "solana".*Nothing was applied/, 'one invalid document in apply')

    const offersDir = join(home, 'offers')
    assert.ok(!existsSync(offersDir) || readdirSync(offersDir).length === 0, 'nothing may be written under VEND_HOME/offers')
  } finally {
    cleanup()
  }
})

function offerYaml(name: string, namespace: string, price: string, path: string, extra = ''): string {
  return `apiVersion: vend.dev/v1alpha1
kind: ServiceOffer
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  type: http
  upstream:
    url: UPSTREAM
  path: ${path}
  payment:
    network: base-sepolia
    payTo: "${ALICE}"
    price:
      perRequest: "${price}"
${extra}`
}

test('offers survive stack down/up; update and delete are durable; a corrupt file is isolated', async (t) => {
  const { home, cleanup } = tempHome()
  const upstream = await startUpstream()
  const facilitator = await startFacilitator([BASE_SEPOLIA])
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  t.after(async () => {
    await stopDaemon(home)
    await upstream.close()
    await facilitator.close()
    cleanup()
  })

  // Created while the stack is down: written, listed as not running.
  const first = ok(await vend(home, ['sell', 'http', 'weather', '--upstream', upstream.url, '--price', '0.001', '--pay-to', ALICE]), 'sell http weather')
  assert.match(first.stderr, /✓ Created offer default\/weather/)
  assert.match(first.stdout.trim(), /\/services\/weather$/)
  const stopped = JSON.parse(ok(await vend(home, ['sell', 'list', '--json']), 'sell list').stdout) as { name: string; conditions: { type: string; status: string; message: string }[] }[]
  assert.equal(stopped.length, 1)
  assert.ok(stopped[0]!.conditions.some((c) => c.type === 'Ready' && c.status === 'Unknown' && /stack is not running/.test(c.message)))

  const up = ok(await vend(home, ['stack', 'up', '--listen', `127.0.0.1:${port}`, '--facilitator', facilitator.url]), 'stack up')
  assert.match(up.stdout, new RegExp(`Storefront: +${base}/`))
  assert.match(up.stdout, /\/api\/services\.json/)
  assert.match(up.stdout, /\/skill\.md/)

  // Same name in another namespace (own path), and a third offer from a file with a free and a priced route.
  const second = ok(await vend(home, ['sell', 'http', 'weather', '-n', 'team-b', '--upstream', upstream.url, '--price', '12.5', '--pay-to', ALICE, '--path', '/b/weather', '--no-register']), 'sell http team-b/weather')
  assert.match(second.stderr, /✓ Created offer team-b\/weather/)
  assert.match(second.stderr, /[✓✗…] Valid/, 'the running stack reports the conditions')
  const routes = '  routes:\n    - path: /health\n      gate: free\n    - path: /daily\n    - path: /submit\n      price:\n        perRequest: "0.5"\n'
  ok(await vend(home, ['apply', '-f', '-'], { input: offerYaml('forecast', 'team-b', '0.25', '/services/forecast', routes).replace('UPSTREAM', upstream.url) }), 'apply')

  const expected: Record<string, Challenge> = {
    '/services/weather/today?city=paris': { status: 402, amount: '1000', payTo: ALICE, network: BASE_SEPOLIA },
    '/b/weather/today': { status: 402, amount: '12500000', payTo: ALICE, network: BASE_SEPOLIA },
    '/services/forecast/daily': { status: 402, amount: '250000', payTo: ALICE, network: BASE_SEPOLIA },
    '/services/forecast/submit': { status: 402, amount: '500000', payTo: ALICE, network: BASE_SEPOLIA },
  }
  const served = async () => {
    for (const [path, want] of Object.entries(expected)) assert.deepEqual(await challenge(base, path), want, path)
    const free = await fetch(`${base}/services/forecast/health`)
    assert.equal(free.status, 200)
    assert.deepEqual(await free.json(), { ok: true })
    return true
  }
  await eventually('three offers serving their 402s', served)

  // A corrupt file is reported with its path, line and reason; the others keep serving.
  writeFileSync(join(home, 'offers', 'default', 'broken.yaml'), offerYaml('broken', 'default', 'lots', '/services/broken').replace('UPSTREAM', upstream.url))
  const listed = await eventually('the corrupt file in sell list', async () => {
    const rows = JSON.parse(ok(await vend(home, ['sell', 'list', '-A', '--json']), 'sell list -A').stdout) as { name: string; file: string; problem?: { file: string; line: number; message: string } }[]
    return rows.find((r) => r.name === 'broken')
  })
  assert.equal(listed.problem?.file, join('offers', 'default', 'broken.yaml'))
  assert.equal(listed.problem?.line, 15)
  assert.match(listed.problem?.message ?? '', /spec\.payment\.price\.perRequest: must be a decimal number/)
  const table = ok(await vend(home, ['sell', 'list']), 'sell list').stdout
  assert.match(table, /broken .*offers\/default\/broken\.yaml:15: spec\.payment\.price\.perRequest/)
  const one = ok(await vend(home, ['sell', 'status', 'broken']), 'sell status broken').stdout
  assert.match(one, /✗ Valid +InvalidSpec +offers\/default\/broken\.yaml:15: spec\.payment\.price\.perRequest: must be a decimal number/)
  const status = ok(await vend(home, ['stack', 'status']), 'stack status').stdout
  assert.match(status, /Stack: +running/)
  assert.match(status, /✗ offers\/default\/broken\.yaml:15: spec\.payment\.price\.perRequest: must be a decimal number/)
  const statusJson = JSON.parse(ok(await vend(home, ['stack', 'status', '--json']), 'stack status --json').stdout) as { running: boolean; problems: { file: string; line: number }[] }
  assert.equal(statusJson.running, true)
  assert.deepEqual(statusJson.problems.map((p) => [p.file, p.line]), [[join('offers', 'default', 'broken.yaml'), 15]])
  await served()

  // Update the recipient (served live), delete one offer.
  ok(await vend(home, ['sell', 'update', 'weather', '--pay-to', BOB]), 'sell update')
  expected['/services/weather/today?city=paris'] = { ...expected['/services/weather/today?city=paris']!, payTo: BOB }
  ok(await vend(home, ['sell', 'delete', 'forecast', '-n', 'team-b', '--yes']), 'sell delete')
  delete expected['/services/forecast/daily']
  delete expected['/services/forecast/submit']
  await eventually('the update and the delete are served', async () => {
    assert.equal((await challenge(base, '/services/weather/today?city=paris')).payTo, BOB)
    assert.equal((await fetch(`${base}/services/forecast/daily`)).status, 404)
    return true
  })

  // Paid offers are live: a non-interactive `stack down` refuses without --yes.
  oneLineError(await vend(home, ['stack', 'down']), /paid offers? (is|are) live.*--yes/, 'stack down without --yes')
  ok(await vend(home, ['stack', 'down', '--yes']), 'stack down')
  await assert.rejects(fetch(`${base}/services/weather/today`), 'nothing listens after stack down')
  const downList = JSON.parse(ok(await vend(home, ['sell', 'list', '-A', '--json']), 'sell list while down').stdout) as { name: string; namespace: string }[]
  assert.deepEqual(downList.map((r) => `${r.namespace}/${r.name}`), ['default/broken', 'default/weather', 'team-b/weather'])

  // Back up with the flags kept in stack.yaml: same routes, same amounts, the new recipient, no deleted offer.
  ok(await vend(home, ['stack', 'up']), 'second stack up')
  await eventually('offers served again after stack up', async () => {
    for (const [path, want] of Object.entries(expected)) assert.deepEqual(await challenge(base, path), want, path)
    return true
  })
  assert.equal((await fetch(`${base}/services/forecast/daily`)).status, 404, 'a deleted offer never comes back')
  const after = JSON.parse(ok(await vend(home, ['sell', 'list', '-A', '--json']), 'sell list after restart').stdout) as { name: string; namespace: string }[]
  assert.ok(!after.some((r) => r.namespace === 'team-b' && r.name === 'forecast'))

  // The daemon's log reads as text; purge stops the stack and removes VEND_HOME.
  assert.match(ok(await vend(home, ['stack', 'logs', '--tail', '200']), 'stack logs').stdout, /^\S+ INFO +Stopped daemon/m)
  oneLineError(await vend(home, ['stack', 'purge']), /Refusing to purge .* without --yes/, 'purge without --yes')
  ok(await vend(home, ['stack', 'purge', '--yes']), 'stack purge')
  assert.ok(!existsSync(home), 'VEND_HOME is gone')
  await assert.rejects(fetch(`${base}/services/weather/today`), 'nothing listens after purge')
})
