/**
 * Test helper: a paid stack in one process (ledger in a temp SQLite file, createPayments, the real gateway, a
 * scriptable upstream) and a buyer built on the official @x402/fetch client. For the payments e2e tests.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { authorizationTypes } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import { toHex, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { randomBytes } from 'node:crypto'
import { routeEntry, startGateway, startServer, type OfferParams, type TestGateway, type TestServer } from '../gateway/testKit.ts'
import { openDatabase, startWalCheckpointer, type Db } from '../state/db.ts'
import { StackConfig } from '../state/stackConfig.ts'
import { createPayments, type Payments } from './createPayments.ts'
import type { LocalFacilitator } from './facilitators/local.ts'
import type { Facilitator } from './facilitators/types.ts'
import type { PaymentRecord } from './ledger/types.ts'
import type { PaymentsLog } from './settlement.ts'
import type { TestChain } from './testChain.ts'

const noisy = process.env.VEND_TEST_LOG === '1'
const print = (level: string) => (msg: string, fields?: Record<string, unknown>) => { if (noisy) console.log(level, msg, JSON.stringify(fields)) }
/** Silent unless VEND_TEST_LOG=1. */
export const quietLog: PaymentsLog = { info: print('info'), warn: print('warn'), error: print('error') }

export type Upstream = TestServer & { hits: Map<string, number> }

/** An upstream whose handlers are chosen by path; counts hits per path. */
export async function startUpstream(handlers: Record<string, (req: IncomingMessage, res: ServerResponse) => void>): Promise<Upstream> {
  const hits = new Map<string, number>()
  const srv = await startServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const h = handlers[path]
    if (h) h(req, res)
    else { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ ok: true, path })) }
  })
  return { ...srv, hits }
}

export type PaidStack = {
  gateway: TestGateway
  payments: Payments
  db: Db
  dir: string
  /** Rows of the ledger, newest last. */
  rows(): Promise<PaymentRecord[]>
  stop(): Promise<void>
}

export async function startPaidStack(opts: {
  chain: TestChain
  offers: OfferParams[]
  config?: Record<string, unknown>
  localChain?: boolean
  /** Keep the ledger in this directory (and leave it there on stop) instead of a fresh temp dir. */
  dir?: string
  /** Environment for secrets (facilitator auth headers). */
  env?: NodeJS.ProcessEnv
}): Promise<PaidStack> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'vend-pay-'))
  const db = openDatabase(join(dir, 'vend.db'))
  const checkpointer = startWalCheckpointer(db)
  const { chain } = opts
  const payments = createPayments({
    db, config: StackConfig.parse(opts.config ?? {}), log: quietLog, queueIntervalMs: 100, ...(opts.env ? { env: opts.env } : {}),
    devChain: opts.localChain === false ? undefined : { rpcUrl: chain.rpcUrl, chainId: chain.chainId, caip2: chain.caip2, settler: chain.settler },
  })
  await payments.start()
  const gateway = await startGateway({ paymentGate: payments.gate }, opts.offers.map(routeEntry))
  return {
    gateway, payments, db, dir,
    rows: () => payments.ledger.list(),
    async stop() {
      await gateway.stop()
      await payments.stop()
      await checkpointer.stop()
      db.close()
      if (!opts.dir) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** An offer paid in the test chain's USDC to its payTo account. */
export function paidOffer(chain: TestChain, p: OfferParams & { upstreamUrl: string; network?: string; settlement?: 'onSuccess' | 'optimistic'; timeoutSeconds?: number; facilitator?: string }): OfferParams {
  return {
    ...p,
    spec: {
      upstream: { url: p.upstreamUrl, timeoutSeconds: p.timeoutSeconds ?? 30 },
      payment: {
        network: p.network ?? 'local', payTo: chain.payTo.address, price: { perRequest: p.price ?? '0.01' },
        asset: { address: chain.usdc.address, decimals: 6, eip712Name: chain.usdc.name, eip712Version: chain.usdc.version },
        ...(p.settlement ? { settlement: p.settlement } : {}), ...(p.facilitator ? { facilitator: p.facilitator } : {}),
      },
      ...p.spec,
    },
  }
}

/** fetch that pays with the official @x402/fetch 2.x client, allowing the test chain's USDC. */
export function payingFetch(chain: TestChain, privateKey: Hex = chain.buyer.privateKey): typeof fetch {
  const client = new x402Client()
    .register('eip155:*', new ExactEvmScheme(privateKeyToAccount(privateKey)))
    .setSpendControls({ allowedAssets: [{ network: chain.caip2 as `${string}:${string}`, asset: chain.usdc.address }] })
  return wrapFetchWithPayment(fetch, client)
}

type PayloadOverrides = {
  key?: Hex; from?: string; to?: string; value?: string; validAfter?: string; validBefore?: string; nonce?: Hex; accepted?: Partial<PaymentRequirements>
}

/** A v2 PAYMENT-SIGNATURE header signed by hand, for payments the official client would never make. */
export async function signedHeader(chain: TestChain, req: PaymentRequirements, over: PayloadOverrides = {}): Promise<string> {
  return encodePaymentSignatureHeader(await signedPayload(chain, req, over))
}

/** A v2 payment payload (EIP-3009 authorisation signed with `over.key`, default the buyer's). */
export async function signedPayload(chain: TestChain, req: PaymentRequirements, over: PayloadOverrides = {}): Promise<PaymentPayload> {
  const account = privateKeyToAccount(over.key ?? chain.buyer.privateKey)
  const now = Math.floor(Date.now() / 1000)
  const auth = {
    from: over.from ?? account.address, to: over.to ?? req.payTo, value: over.value ?? req.amount, validAfter: over.validAfter ?? '0',
    validBefore: over.validBefore ?? String(now + 300), nonce: over.nonce ?? toHex(randomBytes(32)),
  }
  const signature = await account.signTypedData({
    domain: { name: String(req.extra['name']), version: String(req.extra['version']), chainId: chain.chainId, verifyingContract: req.asset as Hex },
    types: authorizationTypes, primaryType: 'TransferWithAuthorization',
    message: { from: auth.from as Hex, to: auth.to as Hex, value: BigInt(auth.value), validAfter: BigInt(auth.validAfter), validBefore: BigInt(auth.validBefore), nonce: auth.nonce },
  })
  return { x402Version: 2, accepted: { ...req, ...over.accepted }, payload: { authorization: auth, signature } }
}

/** Wait until `fn` returns a truthy value (polling; the test runner's timeout bounds it). */
export async function until<T>(fn: () => Promise<T | undefined | false>, everyMs = 25): Promise<T> {
  for (;;) {
    const v = await fn()
    if (v) return v
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** A facilitator served over HTTP (POST /verify, POST /settle, GET /supported), like x402.org's, on `port` (0: any). */
export async function serveFacilitator(fac: Facilitator, port = 0): Promise<TestServer & { calls: string[]; authorizations: (string | undefined)[] }> {
  const calls: string[] = []
  const authorizations: (string | undefined)[] = []
  const srv = await startServerOn(port, async (req, res) => {
    const path = (req.url ?? '/').replace(/\/+$/, '')
    calls.push(path)
    authorizations.push(req.headers.authorization)
    const reply = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)) }
    try {
      if (req.method === 'GET' && path === '/supported') {
        reply(200, 'supported' in fac ? (fac as LocalFacilitator).supported() : { kinds: [{ x402Version: 2, scheme: 'exact', network: 'eip155:*' }], extensions: [], signers: {} })
        return
      }
      let text = ''
      for await (const c of req) text += c
      const { paymentPayload, paymentRequirements } = JSON.parse(text)
      if (path === '/verify') reply(200, await fac.verify(paymentPayload, paymentRequirements))
      else if (path === '/settle') reply(200, await fac.settle(paymentPayload, paymentRequirements))
      else reply(404, { error: 'not found' })
    } catch (err) {
      reply(500, { error: (err as Error).message })
    }
  })
  return { ...srv, calls, authorizations }
}

async function startServerOn(port: number, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  const actual = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${actual}`, port: actual, server,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
