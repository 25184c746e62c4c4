import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseOfferDocuments, locateProblem } from './parseOffers.ts'
import { resolveOffer, OfferInvalidError, reservedPathReason } from './resolveOffer.ts'
import { offerJsonSchema } from './schema.ts'

const good = `apiVersion: vend.dev/v1alpha1
kind: ServiceOffer
metadata:
  name: weather
spec:
  type: http
  upstream:
    url: http://127.0.0.1:9000
  payment:
    network: base-sepolia
    payTo: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    price:
      perRequest: "0.001"
`

test('a minimal offer gets its defaults', () => {
  const [d] = parseOfferDocuments(good, 'x.yaml')
  assert.ok(d?.ok)
  const o = d.offer
  assert.equal(o.metadata.namespace, 'default')
  assert.equal(o.spec.upstream?.healthPath, '/health')
  assert.equal(o.spec.payment.maxTimeoutSeconds, 300)
  assert.equal(o.spec.registration.enabled, true)
  const r = resolveOffer(o)
  assert.equal(r.path, '/services/weather')
  assert.equal(r.price.atomic, 1000n)
  assert.equal(r.asset.eip712Name, 'USDC')
  assert.equal(r.chain.caip2, 'eip155:84532')
})

test('schema errors name the file line and field', () => {
  const bad = good.replace('url: http://127.0.0.1:9000', 'url: http://127.0.0.1:9000\n    headers:\n      Authorization: "Bearer sk-123"')
  const [d] = parseOfferDocuments(bad, 'offers/default/weather.yaml')
  assert.ok(d && !d.ok)
  assert.equal(d.problem.line, 10)
  assert.match(d.problem.message, /spec\.upstream\.headers\.Authorization: header values must be/)
})

test('broken YAML is reported with its line', () => {
  const [d] = parseOfferDocuments('apiVersion: vend.dev/v1alpha1\nkind: [ServiceOffer\n', 'a.yaml')
  assert.ok(d && !d.ok)
  assert.match(d.problem.message, /invalid YAML/)
  assert.equal(typeof d.problem.line, 'number')
})

test('resolution problems: 7 decimals on USDC, unknown chain, two prices', () => {
  const seven = parseOfferDocuments(good.replace('"0.001"', '"0.0000001"'), 'a.yaml')[0]
  assert.ok(seven?.ok)
  assert.throws(() => resolveOffer(seven.offer), (e: unknown) => e instanceof OfferInvalidError && /7 decimals/.test(e.message))
  const text = good.replace('base-sepolia', 'solana')
  const unk = parseOfferDocuments(text, 'a.yaml')[0]
  assert.ok(unk?.ok)
  try { resolveOffer(unk.offer); assert.fail('should throw') } catch (e) {
    assert.ok(e instanceof OfferInvalidError)
    const loc = locateProblem(text, 'a.yaml', e.problems[0]!)
    assert.equal(loc.line, 10)
    assert.match(loc.message, /unknown chain "solana"/)
  }
})

test('reserved paths', () => {
  for (const p of ['/', '/api/services.json', '/api', '/.well-known/x402', '/skill.md', '/healthz', '/metrics/']) assert.ok(reservedPathReason(p), p)
  for (const p of ['/services/x', '/apis', '/weather']) assert.equal(reservedPathReason(p), undefined, p)
})

test('multi-document files validate each document on its own', () => {
  const docs = parseOfferDocuments(`${good}---\n${good.replace('name: weather', 'name: Bad_Name')}`, 'm.yaml')
  assert.equal(docs.length, 2)
  assert.ok(docs[0]?.ok)
  assert.ok(docs[1] && !docs[1].ok && /metadata\.name/.test(docs[1].problem.message))
})

test('JSON Schema is generated from the same module', () => {
  const s = offerJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown> }> }
  assert.ok(s.properties.spec?.properties?.payment)
  assert.ok(s.properties.metadata?.properties?.namespace)
})

test('route paths may end in a /* wildcard', () => {
  const text = good.replace('spec:\n', 'spec:\n  routes:\n    - {path: "/jobs/*", gate: free}\n    - {path: /submit, price: {perRequest: "0.5"}}\n')
  const [d] = parseOfferDocuments(text, 'r.yaml')
  assert.ok(d?.ok, d && !d.ok ? d.problem.message : '')
  const r = resolveOffer(d.offer)
  assert.deepEqual(r.routes.map((x) => [x.path, x.gate, x.price.atomic]), [['/jobs/*', 'free', 1000n], ['/submit', 'paid', 500000n]])
  const [all] = parseOfferDocuments(good.replace('spec:\n', 'spec:\n  routes:\n    - {path: "/*"}\n'), 'r.yaml')
  assert.ok(all?.ok)
  assert.equal(resolveOffer(all.offer).routes[0]?.path, '/*')
  const [bad] = parseOfferDocuments(good.replace('spec:\n', 'spec:\n  routes:\n    - {path: "/a*b"}\n'), 'r.yaml')
  assert.ok(bad && !bad.ok && /routes\.0\.path/.test(bad.problem.message))
})

test('YAML that parses but cannot become data (unresolved alias) is a problem, not a crash', () => {
  const [d] = parseOfferDocuments('*!', 'x.yaml')
  assert.ok(d && !d.ok && /invalid YAML: Unresolved alias/.test(d.problem.message))
})
