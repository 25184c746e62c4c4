/**
 * Property-based fuzzing (fast-check, bounded runs): payment headers against a running gateway + payments gate,
 * offer YAML through the parser and resolver, CLI arguments through main(), price strings through the decimal
 * math, OpenAI request bodies through validateRequest. Every input ends in a clear refusal or a typed error:
 * never a crash, a 5xx, a hang or a paid route served for free.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { defaultContext, type CliContext } from '../src/cli/context.ts'
import { main } from '../src/cli/main.ts'
import { BaseError } from '../src/errors/base.ts'
import { validateRequest, type InferenceKind } from '../src/inference/validateRequest.ts'
import { parseOfferDocuments } from '../src/offer/parseOffers.ts'
import { formatAtomic, toAtomic } from '../src/offer/price.ts'
import { resolveOffer } from '../src/offer/resolveOffer.ts'
import { rawRequest } from '../src/gateway/testKit.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { paidOffer, signedPayload, startPaidStack, startUpstream, type PaidStack, type Upstream } from '../src/payments/testStack.ts'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64')

/** Any JSON value, with the huge and odd ones payment fields attract. */
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('9'.repeat(5000), '-1', '1e308', '0x', `0x${'f'.repeat(64)}`, `0x${'0'.repeat(40)}`, 'NaN', '', ' ', '\u0000', '1.5'),
  fc.bigInt({ min: 0n, max: 2n ** 300n }).map(String),
  fc.double(),
)

describe('payment headers against a running gateway + payments gate', () => {
  let chain: TestChain
  let upstream: Upstream
  let stack: PaidStack
  let req: PaymentRequirements
  let url: string

  before(async () => {
    chain = await startTestChain({ buyerFunds: 1_000_000n })
    upstream = await startUpstream({})
    stack = await startPaidStack({ chain, offers: [paidOffer(chain, { name: 'weather', upstreamUrl: upstream.url })] })
    url = `${stack.gateway.url}/services/weather/today`
    const res = await rawRequest(url)
    req = decodePaymentRequiredHeader(String(res.headers['payment-required'])).accepts[0]!
  })
  after(async () => {
    await stack?.stop()
    await upstream?.close()
    await chain?.stop()
  })

  test('fuzzed payment headers: always a 4xx with a JSON reason (402 refusals), never served, never a 5xx', async () => {
    const valid = await signedPayload(chain, req)
    /** A real payload with one field (at any depth we know) replaced by an odd value. */
    const mutated = fc.tuple(fc.constantFrom('x402Version', 'accepted', 'payload', 'accepted.amount', 'accepted.network', 'accepted.asset', 'accepted.payTo', 'accepted.scheme',
      'payload.signature', 'payload.authorization', 'payload.authorization.value', 'payload.authorization.from', 'payload.authorization.to', 'payload.authorization.nonce',
      'payload.authorization.validBefore', 'payload.authorization.validAfter'), oddValue).map(([path, v]) => {
      const copy = structuredClone(valid) as unknown as Record<string, unknown>
      const keys = path.split('.')
      let o = copy
      for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>
      o[keys.at(-1)!] = v
      return b64(copy)
    })
    const header = fc.oneof(
      fc.string({ unit: 'grapheme-ascii', maxLength: 200 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
      fc.base64String({ maxLength: 400 }),
      fc.jsonValue({ maxDepth: 3 }).map(b64),
      fc.record({ x402Version: oddValue, accepted: oddValue, payload: oddValue }, { requiredKeys: [] }).map(b64),
      mutated,
    )
    const hits0 = upstream.hits.get('/today') ?? 0
    await fc.assert(fc.asyncProperty(header, fc.constantFrom('payment-signature', 'x-payment'), async (h, name) => {
      const res = await rawRequest(url, { headers: { [name]: h } })
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status} for ${name}: ${h.slice(0, 80)} -> ${res.body.slice(0, 200)}`)
      if (res.status === 402) {
        const body = JSON.parse(res.body) as Record<string, unknown>
        assert.ok(body['error'] ?? body['reason'], `402 without a reason: ${res.body.slice(0, 200)}`)
      }
    }), { numRuns: 150 })
    assert.equal(upstream.hits.get('/today') ?? 0, hits0, 'no fuzzed request reached the paid upstream')
    assert.equal((await stack.rows()).filter((r) => r.status === 'settled').length, 0, 'nothing was settled')
  })
})

test('offer YAML: parseOfferDocuments and resolveOffer return problems or throw typed errors, nothing else', () => {
  const base = {
    apiVersion: 'vend.dev/v1alpha1', kind: 'ServiceOffer', metadata: { name: 'weather', namespace: 'default' },
    spec: { type: 'http', upstream: { url: 'http://127.0.0.1:9' }, payment: { network: 'base-sepolia', payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', price: { perRequest: '0.001' } }, path: '/services/weather' },
  }
  const paths = ['apiVersion', 'kind', 'metadata', 'metadata.name', 'metadata.namespace', 'spec', 'spec.type', 'spec.upstream', 'spec.upstream.url', 'spec.payment',
    'spec.payment.network', 'spec.payment.payTo', 'spec.payment.price', 'spec.payment.price.perRequest', 'spec.path', 'spec.routes', 'spec.model']
  const mutatedDoc = fc.tuple(fc.subarray(paths, { minLength: 1, maxLength: 3 }), fc.array(oddValue, { minLength: 3, maxLength: 3 })).map(([ps, vs]) => {
    const copy = structuredClone(base) as unknown as Record<string, unknown>
    ps.forEach((p, i) => {
      const keys = p.split('.')
      let o = copy
      for (const k of keys.slice(0, -1)) { if (typeof o[k] !== 'object' || o[k] === null) o[k] = {}; o = o[k] as Record<string, unknown> }
      o[keys.at(-1)!] = vs[i]
    })
    return stringify(copy)
  })
  const text = fc.oneof(fc.string({ maxLength: 300 }), mutatedDoc, mutatedDoc.chain((t) => fc.nat(t.length).map((n) => t.slice(0, n))), fc.constantFrom('---\n---\n', '&a [*a]', '!!binary x', 'a: &x\n  b: *x\n', '{'.repeat(500)))
  fc.assert(fc.property(text, (t) => {
    try {
      for (const doc of parseOfferDocuments(t, 'fuzz.yaml')) {
        if (doc.ok) resolveOffer(doc.offer)
        else assert.equal(typeof doc.problem.message, 'string')
      }
    } catch (err) {
      assert.ok(err instanceof BaseError, `untyped error ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}\n--- input:\n${t.slice(0, 300)}`)
    }
  }), { numRuns: 400 })
})

test('price math: toAtomic and formatAtomic round-trip exactly; malformed prices are typed errors', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.integer({ min: 0, max: 30 }), (amount, decimals) => {
    assert.equal(toAtomic(formatAtomic(amount, decimals), decimals), amount)
  }), { numRuns: 500 })
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.integer({ min: 0, max: 18 }), fc.integer({ min: 0, max: 18 }), (units, fracDigits, decimals) => {
    const s = units.toString().padStart(fracDigits + 1, '0')
    const text = fracDigits === 0 ? s : `${s.slice(0, -fracDigits)}.${s.slice(-fracDigits)}`
    if (fracDigits <= decimals) assert.equal(toAtomic(text, decimals), units * 10n ** BigInt(decimals - fracDigits))
    else assert.throws(() => toAtomic(text, decimals), BaseError, `more decimals than the asset has must be refused: ${text} @ ${decimals}`)
  }), { numRuns: 500 })
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.double().map(String), fc.constantFrom('1e-6', '-0.1', '0x10', ' 1', '1,5', '١')), (s) => {
    try { toAtomic(s, 6) } catch (err) { assert.ok(err instanceof BaseError, `untyped error for ${JSON.stringify(s)}`) }
  }), { numRuns: 500 })
})

test('no floating point on the money path: the offer price code never parses numbers as floats', () => {
  for (const file of ['src/offer/price.ts', 'src/offer/resolveOffer.ts', 'src/payments/wire.ts', 'src/payments/gate.ts', 'src/inference/metering.ts']) {
    const code = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
    for (const bad of [/parseFloat\(/, /\bNumber\([^)]*(price|amount|value|atomic)/i, /\.toFixed\(/, /Math\.round\([^)]*(price|amount)/i]) {
      assert.doesNotMatch(code, bad, `${file} handles money with floating point (${bad})`)
    }
  }
})

test('OpenAI request bodies: validateRequest never throws; a refusal is a 400/413 with an OpenAI error body', () => {
  const message = fc.record({ role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer'), fc.string()), content: oddValue }, { requiredKeys: [] })
  const body = fc.record({
    model: fc.oneof(fc.constant('tiny'), oddValue), messages: fc.oneof(fc.array(message, { maxLength: 4 }), oddValue), prompt: oddValue, input: oddValue,
    stream: fc.oneof(fc.boolean(), oddValue), max_tokens: oddValue, stream_options: oddValue, temperature: oddValue, n: oddValue, stop: oddValue,
  }, { requiredKeys: [] })
  const raw = fc.oneof(body.map((b) => JSON.stringify(b)), fc.string({ maxLength: 200 }), fc.constantFrom('', 'null', '[]', '{"messages":', 'x'.repeat(2000)))
  fc.assert(fc.property(fc.constantFrom<InferenceKind>('chat', 'completion', 'embedding'), raw, (kind, text) => {
    const r = validateRequest(kind, text, { model: 'tiny', maxTokens: 200, maxBodyBytes: 1024 })
    if (!r.ok) {
      assert.ok(r.status === 400 || r.status === 413)
      assert.equal(typeof r.body.error.message, 'string')
      assert.ok(r.body.error.message.length > 0)
    }
  }), { numRuns: 500 })
})

test('CLI arguments: main() never throws; a failure is one stderr line and a non-zero exit', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vend-fuzz-cli-'))
  let n = 0
  try {
    // Commands that serve, follow logs or talk to a chain or a remote URL are left out: they wait by design.
    const words = ['sell', 'http', 'inference', 'list', 'show', 'edit', 'stop', 'delete', 'get', 'offers', 'stack', 'status', 'down', 'purge', 'info', 'ledger', 'earnings',
      'wallet', 'apply', 'version', 'help', 'weather', 'a/b', '../x', '--help', '--json', '--no-wait', '--yes', '-o', 'json', 'yaml', '-n', '--namespace', '--price', '--upstream',
      '--path', '--name', '--network', '--pay-to', '--model', '--max-tokens', '--description', '--chain', '-A', '--tail', '-X', '--rps', '--threads', 'http://127.0.0.1:9/']
    const arg = fc.oneof(fc.constantFrom(...words), fc.string({ maxLength: 12 }).filter((s) => !s.includes('://')), fc.constantFrom('0.001', '-1', '1e9', '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '', '/', '\u202e'))
    await fc.assert(fc.asyncProperty(fc.array(arg, { maxLength: 6 }), async (argv) => {
      if (argv.includes('serve') || argv.includes('up') || argv.includes('logs')) return
      let out = ''
      let err = ''
      const home = join(root, String(n++)) // a fresh VEND_HOME per run: a failure reproduces from its arguments alone
      const base = defaultContext({ VEND_HOME: home, VEND_NO_PROMPT: '1' })
      const ctx: CliContext = {
        ...base,
        io: { out: (t) => { out += t.endsWith('\n') ? t : `${t}\n` }, err: (t) => { err += t.endsWith('\n') ? t : `${t}\n` }, stdinIsTTY: false, stdoutIsTTY: false, confirm: async () => false },
        canPrompt: () => false,
        engine: () => { throw new BaseError('No daemon in this test.', { hint: 'None.' }) },
      }
      if (n === 1) await main(['--help'], ctx) // load every command module before timing anything
      let timer: NodeJS.Timeout | undefined
      const code = await Promise.race([main(argv, ctx), new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`vend ${argv.join(' ')} hung`)), 30_000) })]).finally(() => clearTimeout(timer))
      assert.equal(typeof code, 'number', out)
      if (code !== 0) {
        assert.equal(err.trimEnd().split('\n').length, 1, `vend ${JSON.stringify(argv)} -> ${code}: stderr is not one line:\n${err}`)
        assert.match(err, /^vend: /)
        assert.doesNotMatch(err, /unexpected error/, `vend ${JSON.stringify(argv)}: ${err}`)
      }
    }), { numRuns: 200 })
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
