/**
 * `vend demo` end to end: bring the stack up with its dev chain (or reuse it), (re)write the demo offer, call it
 * once unpaid (the 402 and its requirements) and once paid by the dev buyer, and measure both balances on the chain
 * before and after. Idempotent: a second run reuses the stack, the chain and the offer, and pays again.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { Engine, StackUpResult } from '../engine/api.ts'
import { NoDevChainError } from '../devchain/errors.ts'
import { findChain } from '../offer/networks.ts'
import { formatAtomic, toAtomic } from '../offer/price.ts'
import { conditionIcon } from '../reconciler/conditions.ts'
import { offerFile, type HomePaths } from '../state/home.ts'
import { readStackConfig } from '../state/stackConfig.ts'
import { offerToYaml, readOfferFile, writeOffer } from '../state/offerStore.ts'
import type { Balances } from './calls.ts'
import { DemoOfferNotReadyError, StackNotInDevModeError } from './errors.ts'
import { DEMO_KEY, DEMO_NAME, DEMO_NAMESPACE, DEMO_PATH, DEMO_PAY_TO, DEMO_PRICE, demoOffer, loopbackUrl } from './offer.ts'

export type DemoOptions = {
  engine: Engine
  paths: HomePaths
  /** Passed to `stack up` (and saved in stack.yaml like its --listen). */
  listen?: string
  /** Progress notices ("Starting the stack ..."). */
  progress?: (line: string) => void
}

/** A balance before and after the paid call, in atomic units and as decimal strings ("999.999", delta "-0.001"). */
export type DemoBalance = { address: string; before: string; after: string; delta: string; beforeAtomic: string; afterAtomic: string; deltaAtomic: string }

/** What the demo did; `vend demo --json` prints it. Holds no private key. */
export type DemoSummary = {
  stack: { reused: boolean; pid: number; listen: string; url: string }
  devChain: { rpcUrl: string; chainId: number; network: string; usdc: string }
  offer: { key: string; reused: boolean; url: string; price: string; currency: string; payTo: string }
  unpaid: { status: number; scheme: string; price: string; amount: string; network: string; networkName: string; asset: string; currency: string; payTo: string; maxTimeoutSeconds: number }
  paid: { status: number; body: unknown; transaction: string; network: string; payer: string | undefined }
  balances: { currency: string; buyer: DemoBalance; seller: DemoBalance }
  urls: { storefront: string; services: string; skill: string; offer: string }
}

const OFFER_WAIT_MS = 15_000

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const { engine, paths } = opts
  const progress = opts.progress ?? (() => {})

  const current = await engine.status()
  if (current.running && !current.devChain) throw new StackNotInDevModeError({ root: paths.root })
  if (!current.running) progress('Starting the stack with a local dev chain (the first run deploys USDC on it)...')
  const starting = engine.up({ dev: true, ...(opts.listen !== undefined ? { listen: opts.listen } : {}) })
  // viem and the x402 SDK load while the daemon starts (a second or more on a small machine).
  const loading = import('./calls.ts')
  // A fresh daemon loads its code for seconds before it starts the dev chain: start the chain from here meanwhile.
  // ensureDevChain is locked and idempotent, so the daemon finds it running and deployed (the same call it makes).
  let upFailed = false
  starting.catch(() => { upFailed = true })
  const early = current.running ? undefined : loading.then((c) => {
    const dev = readStackConfig(paths).dev
    return !upFailed && dev?.enabled && !dev.join ? c.ensureDevChain(paths, { chainId: dev.chainId }) : undefined
  })
  const [up, calls] = await Promise.all([starting, loading, early])
  const chain = calls.readDevChain(paths)
  if (!chain) throw new NoDevChainError()

  const offerUrl = `${loopbackUrl(up.listen)}${DEMO_PATH}`
  const offerReused = await ensureDemoOffer(engine, paths, up, chain.network)
  const decimals = chain.usdc.decimals
  const unpaid = await calls.unpaidCall(offerUrl)
  const req = unpaid.requirements
  const currency = symbolOf(req.network, req.asset)
  const price = BigInt(req.amount)
  const paid = await calls.paidCall(chain, offerUrl, req.payTo, { decimal: DEMO_PRICE, atomic: toAtomic(DEMO_PRICE, decimals) }, progress)

  return {
    stack: { reused: up.alreadyRunning, pid: up.pid, listen: up.listen, url: up.url },
    devChain: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, network: chain.caip2, usdc: chain.usdc.address },
    offer: { key: DEMO_KEY, reused: offerReused, url: `${up.url}${DEMO_PATH}`, price: DEMO_PRICE, currency, payTo: DEMO_PAY_TO },
    unpaid: {
      status: unpaid.status, scheme: req.scheme, price: formatAtomic(price, decimals), amount: req.amount,
      network: req.network, networkName: findChain(req.network)?.name ?? req.network, asset: req.asset, currency, payTo: req.payTo,
      maxTimeoutSeconds: req.maxTimeoutSeconds,
    },
    paid: { status: paid.status, body: parseBody(paid.body), transaction: paid.receipt.transaction, network: paid.receipt.network, payer: paid.receipt.payer },
    balances: { currency, buyer: balance(paid.buyer.address, paid.buyer, decimals), seller: balance(paid.seller.address, paid.seller, decimals) },
    urls: { storefront: up.urls.storefront, services: up.urls.services, skill: up.urls.skill, offer: `${up.url}${DEMO_PATH}` },
  }
}

/**
 * Write the demo offer unless its file already holds exactly it, then wait until the daemon serves it.
 * Returns whether the file was reused as it was.
 */
async function ensureDemoOffer(engine: Engine, paths: HomePaths, up: StackUpResult, network: string): Promise<boolean> {
  const desired = demoOffer(up.listen, network)
  const file = offerFile(paths, DEMO_NAMESPACE, DEMO_NAME)
  const reused = existsSync(file) && readFileSync(file, 'utf8') === offerToYaml(desired)
  if (!reused) writeOffer(paths, desired)
  const record = readOfferFile(paths, DEMO_NAMESPACE, DEMO_NAME)
  if (record.problem) throw new DemoOfferNotReadyError({ key: DEMO_KEY, why: `${record.problem.file}: ${record.problem.message}` })
  const status = await engine.waitForOffer(DEMO_KEY, record.generation, OFFER_WAIT_MS)
  if (!status) throw new DemoOfferNotReadyError({ key: DEMO_KEY, why: `the stack did not pick it up within ${OFFER_WAIT_MS / 1000} s` })
  if (!status.operationallyReady) {
    const failing = status.conditions.find((c) => c.status !== 'True' && c.type !== 'Ready' && c.type !== 'Registered' && c.type !== 'Draining')
    throw new DemoOfferNotReadyError({ key: DEMO_KEY, why: failing ? `${conditionIcon(failing)} ${failing.type}: ${failing.message}` : 'it is not ready' })
  }
  return reused
}

/** "USDC" for the chain's USDC, else the asset's address. */
function symbolOf(network: string, asset: string): string {
  const usdc = findChain(network)?.usdc
  return usdc && usdc.address.toLowerCase() === asset.toLowerCase() ? usdc.symbol : asset
}

function balance(address: string, { before, after }: Balances, decimals: number): DemoBalance {
  const delta = after - before
  return {
    address,
    before: formatAtomic(before, decimals), after: formatAtomic(after, decimals), delta: `${delta > 0n ? '+' : ''}${formatAtomic(delta, decimals)}`,
    beforeAtomic: before.toString(), afterAtomic: after.toString(), deltaAtomic: delta.toString(),
  }
}

function parseBody(text: string): unknown {
  try { return JSON.parse(text) } catch { return text }
}
