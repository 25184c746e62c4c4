/**
 * Child-process entry for the paid benchmark: `vend` (the gateway + payments, ledger in a temp SQLite file) or
 * `express` (express 5 + @x402/express 2.27 with the SDK's own in-process facilitator: x402Facilitator + the
 * @x402/evm exact scheme on one viem signer, receipt polling at 50 ms as in paid-baseline.md), both in front of
 * the same kind of upstream (`/` JSON, `/sse` 5 events 100 ms apart, anything else: a model upstream given as
 * VEND_BENCH's modelUrl). Config as JSON in VEND_BENCH; reports {url, paidPath} over IPC.
 */
import type { AddressInfo } from 'node:net'
import type { Hex } from 'viem'
import { startServer } from '../../src/gateway/testKit.ts'
import { toAtomic } from '../../src/offer/price.ts'
import type { TestChain } from '../../src/payments/testChain.ts'
import { paidOffer, startPaidStack } from '../../src/payments/testStack.ts'
import { upstreamHandler } from './upstream.ts'

export type PaidServerConfig = {
  kind: 'vend' | 'express'
  chain: Pick<TestChain, 'rpcUrl' | 'chainId' | 'caip2' | 'usdc' | 'settler' | 'payTo'>
  price: string
  /** The upstream in its own process (vend only; default: one in this process). */
  upstreamUrl?: string
  /** An OpenAI-compatible upstream to sell per token under /services/model/ (vend only), its model and price. */
  modelUrl?: string
  modelName?: string
  perMTok?: string
}

export const PAID_PATH = { vend: '/services/bench/', express: '/paid' } as const

async function vend(cfg: PaidServerConfig): Promise<string> {
  const upstream = cfg.upstreamUrl ? { url: cfg.upstreamUrl, close: async () => {} } : await startServer(upstreamHandler)
  const chain = cfg.chain as TestChain
  const offers = [
    paidOffer(chain, { name: 'bench', upstreamUrl: upstream.url, price: cfg.price }),
    // the same upstream behind a free route: the gateway hop alone, without the payment
    paidOffer(chain, { name: 'free', upstreamUrl: upstream.url, price: cfg.price, spec: { routes: [{ path: '/*', gate: 'free' }] } }),
  ]
  if (cfg.modelUrl) {
    // an inference offer metered per token (upto, exact fallback) in front of the OpenAI-compatible model server
    const model = paidOffer(chain, { name: 'model', upstreamUrl: cfg.modelUrl, price: cfg.price })
    const payment = { ...(model.spec!['payment'] as object), price: { perMTok: cfg.perMTok ?? '1' } }
    offers.push({ ...model, spec: { ...model.spec, type: 'inference', model: { name: cfg.modelName ?? 'tiny', maxTokens: 64 }, payment } })
    // the model server behind a free route: the gateway hop alone
    offers.push(paidOffer(chain, { name: 'model-free', upstreamUrl: cfg.modelUrl, price: cfg.price, spec: { routes: [{ path: '/*', gate: 'free' }] } }))
  }
  const stack = await startPaidStack({ chain, offers })
  process.once('SIGTERM', () => void stack.stop().then(() => upstream.close()).then(() => process.exit(0)))
  return stack.gateway.url
}

async function express(cfg: PaidServerConfig): Promise<string> {
  const { default: expressApp } = await import('express')
  const { createWalletClient, http, defineChain, publicActions } = await import('viem')
  const { privateKeyToAccount } = await import('viem/accounts')
  const { x402Facilitator } = await import('@x402/core/facilitator')
  const { x402ResourceServer } = await import('@x402/core/server')
  const { paymentMiddleware } = await import('@x402/express')
  const { ExactEvmScheme: ServerExact } = await import('@x402/evm/exact/server')
  const { ExactEvmScheme: FacilitatorExact } = await import('@x402/evm/exact/facilitator')
  const { toFacilitatorEvmSigner } = await import('@x402/evm')
  const { chain } = cfg
  const network = chain.caip2 as `${string}:${string}`
  const viemChain = defineChain({ id: chain.chainId, name: 'local', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [chain.rpcUrl] } } })
  const account = privateKeyToAccount(chain.settler.privateKey as Hex)
  const wallet = createWalletClient({ account, chain: viemChain, transport: http(chain.rpcUrl), pollingInterval: 50 }).extend(publicActions)
  const facilitator = new x402Facilitator().register(network, new FacilitatorExact(toFacilitatorEvmSigner({ ...wallet, address: account.address } as never)))
  const client = { verify: (p: never, r: never) => facilitator.verify(p, r), settle: (p: never, r: never) => facilitator.settle(p, r), getSupported: async () => facilitator.getSupported() }
  const resourceServer = new x402ResourceServer(client as never).register(network, new ServerExact())
  const amount = toAtomic(cfg.price, chain.usdc.decimals).toString()
  const app = expressApp()
  app.use(paymentMiddleware({
    'GET /paid': { accepts: { scheme: 'exact', network, payTo: chain.payTo.address, price: { asset: chain.usdc.address, amount, extra: { name: chain.usdc.name, version: chain.usdc.version } } }, description: 'bench' },
    'GET /paid/sse': { accepts: { scheme: 'exact', network, payTo: chain.payTo.address, price: { asset: chain.usdc.address, amount, extra: { name: chain.usdc.name, version: chain.usdc.version } } }, description: 'bench sse' },
  }, resourceServer))
  app.get('/paid', upstreamHandler)
  app.get('/paid/sse', upstreamHandler)
  const server = await new Promise<import('node:http').Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  process.once('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

process.on('message', (m) => { if (m === 'cpu') { const u = process.cpuUsage(); process.send?.({ cpuUs: u.user + u.system }) } })
const cfg = JSON.parse(process.env.VEND_BENCH ?? '{}') as PaidServerConfig
const start = cfg.kind === 'vend' ? vend : express
start(cfg).then((url) => process.send?.({ url, paidPath: PAID_PATH[cfg.kind] }), (err: unknown) => { console.error(err); process.exit(1) })
