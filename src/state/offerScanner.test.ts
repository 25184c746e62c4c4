import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { homePaths } from './home.ts'
import { createOfferScanner, readOfferFileFast } from './offerScanner.ts'
import { readOfferFile } from './offerStore.ts'

const offer = (name: string, ns = 'default', extra = '') => `apiVersion: vend.dev/v1alpha1
kind: ServiceOffer
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  type: http
  upstream:
    url: http://127.0.0.1:9000/base
    timeoutSeconds: 30
  payment:
    network: base-sepolia
    payTo: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    price:
      perRequest: "0.001"
${extra}`

function home() {
  const root = mkdtempSync(join(tmpdir(), 'vend-scan-'))
  return { paths: homePaths(root), done: () => rmSync(root, { recursive: true, force: true }) }
}

function put(paths: ReturnType<typeof homePaths>, ns: string, name: string, text: string): string {
  mkdirSync(join(paths.offersDir, ns), { recursive: true })
  const p = join(paths.offersDir, ns, `${name}.yaml`)
  writeFileSync(p, text)
  return p
}

test('the fast path reads every file exactly as readOfferFile does', (t) => {
  const { paths, done } = home()
  t.after(done)
  const cases: Record<string, string> = {
    plain: offer('plain'),
    routes: offer('routes', 'default', '  routes:\n    - path: /jobs/*\n      gate: free\n    - path: /submit\n      price: { perRequest: "0.5" }\n'),
    // an unquoted timestamp stays a string under the YAML 1.2 core schema in both parsers
    drain: offer('drain', 'default', '  drainAt: 2026-01-01T00:00:00Z\n  drainGracePeriod: 1h\n  description: >\n    folded\n    text # not a comment\n'),
    comments: `# header comment\n${offer('comments')}  # trailing\n`,
    wrongName: offer('other'),
    badField: offer('badfield', 'default', '  bogus: 1\n'),
    badYaml: `${offer('badyaml')}  registration: [\n`,
    alias: offer('alias', 'default', '  description: &d hello\n  registration:\n    description: *d\n'),
    twoDocs: `${offer('twodocs')}---\n${offer('twodocs')}`,
  }
  for (const [name, text] of Object.entries(cases)) {
    const key = name.toLowerCase()
    const abs = put(paths, 'default', key, text)
    const slow = readOfferFile(paths, 'default', key, abs)
    const fast = readOfferFileFast(paths, 'default', key, abs, slow.mtimeMs)
    assert.deepEqual(fast, slow, name)
  }
  const problems = ['wrongname', 'badfield', 'badyaml', 'twodocs'].map((k) => readOfferFile(paths, 'default', k).problem)
  assert.ok(problems.every((p) => p && p.file.startsWith('offers/default/') && p.message.length > 0))
  assert.ok(problems.every((p) => typeof p!.line === 'number'))
})

test('a scan re-reads only changed files and reports removed ones', (t) => {
  const { paths, done } = home()
  t.after(done)
  const scanner = createOfferScanner(paths)
  assert.deepEqual(scanner.scan(), { records: [], changed: new Set(), removed: [] })
  put(paths, 'b', 'one', offer('one', 'b'))
  put(paths, 'a', 'two', offer('two', 'a'))
  put(paths, 'a', 'Bad_Name', offer('x', 'a'))
  writeFileSync(join(paths.offersDir, 'a', '.two.yaml.123.tmp'), 'partial')
  const first = scanner.scan()
  assert.deepEqual(first.records.map((r) => r.key), ['a/two', 'b/one'])
  assert.deepEqual([...first.changed].sort(), ['a/two', 'b/one'])

  const again = scanner.scan()
  assert.equal(again.changed.size, 0)
  assert.equal(again.records[0], first.records[0], 'unchanged files are not parsed again')

  put(paths, 'b', 'one', offer('one', 'b').replace('"0.001"', '"0.002"'))
  unlinkSync(join(paths.offersDir, 'a', 'two.yaml'))
  const third = scanner.scan()
  assert.deepEqual([...third.changed], ['b/one'])
  assert.deepEqual(third.removed, ['a/two'])
  assert.equal(third.records[0]!.offer?.spec.payment.price.perRequest, '0.002')
})

test('a large first scan (two threads) gives exactly the records of a plain scan, problems included', async (t) => {
  const { paths, done } = home()
  t.after(done)
  for (let i = 0; i < 2400; i++) put(paths, `team-${i % 3}`, `offer-${String(i).padStart(4, '0')}`, offer(`offer-${String(i).padStart(4, '0')}`, `team-${i % 3}`))
  // problems and slow-path files in both halves (the worker takes the second half of the sorted list)
  put(paths, 'team-0', 'aaa-broken', 'apiVersion: [unclosed\n')
  put(paths, 'team-2', 'zzz-broken', offer('zzz-broken', 'team-2').replace('perRequest: "0.001"', 'perRequest: "-1"'))
  put(paths, 'team-2', 'zzz-anchored', offer('zzz-anchored', 'team-2', '  routes: &r\n    - path: /a\n'))
  put(paths, 'team-2', 'zzz-misnamed', offer('someone-else', 'team-2'))

  const parallel = await createOfferScanner(paths).scanFirst()
  const plain = createOfferScanner(paths).scan()
  assert.equal(parallel.records.length, 2404)
  assert.deepEqual(parallel.records, plain.records)
  assert.deepEqual([...parallel.changed].sort(), [...plain.changed].sort())
  assert.ok(parallel.records.find((r) => r.key === 'team-2/zzz-broken')?.problem, 'a worker-half problem is reported')
  assert.ok(parallel.records.find((r) => r.key === 'team-0/aaa-broken')?.problem, 'a main-half problem is reported')
  assert.ok(parallel.records.find((r) => r.key === 'team-2/zzz-anchored')?.offer, 'anchors take the slow path and still load')
})

test('after a first scan, later scans read only what changed', async (t) => {
  const { paths, done } = home()
  t.after(done)
  for (let i = 0; i < 2100; i++) put(paths, 'default', `o-${i}`, offer(`o-${i}`))
  const scanner = createOfferScanner(paths)
  assert.equal((await scanner.scanFirst()).changed.size, 2100)
  put(paths, 'default', 'o-7', offer('o-7', 'default', '  limits:\n    rps: 5\n'))
  unlinkSync(join(paths.offersDir, 'default', 'o-8.yaml'))
  const next = scanner.scan()
  assert.deepEqual([...next.changed], ['default/o-7'])
  assert.deepEqual(next.removed, ['default/o-8'])
  assert.equal(next.records.find((r) => r.key === 'default/o-7')?.offer?.spec.limits?.rps, 5)
})
