/**
 * Which facilitator settles an offer's payments: the offer's `payment.facilitator`, else the stack's
 * `facilitators` entry for the network (an exact network before "*"), else the local one for the dev chain, else
 * `defaults.facilitator`, else the public testnet facilitator on testnets. "local" means the in-process facilitator,
 * which exists only for a chain we hold a settlement key and RPC for (the dev chain).
 */
import type { Hex } from 'viem'
import { findChain } from '../../offer/networks.ts'
import type { ServiceOffer } from '../../offer/schema.ts'
import type { FacilitatorObservation } from '../../reconciler/types.ts'
import { DEFAULT_TESTNET_FACILITATOR, type StackConfig } from '../../state/stackConfig.ts'
import { createLocalFacilitator } from './local.ts'
import { createRemoteFacilitator } from './remote.ts'
import type { Facilitator } from './types.ts'

/** What the registry needs of the dev chain (DevChainInfo from devchain/devChain.ts fits). */
export type LocalChain = { rpcUrl: string; chainId: number; caip2: string; settler: { privateKey: string } }

export type FacilitatorRegistry = {
  /** The facilitator for payments on `caip2` for this offer, or undefined when none is configured. */
  facilitatorFor(caip2: string, offer?: ServiceOffer): Facilitator | undefined
  /** The facilitator a ledger row was verified with (its `facilitator` column). */
  byId(id: string, caip2: string): Facilitator | undefined
  /** PaymentGateReady input for the reconciler (no I/O). */
  observe(caip2: string, offer: ServiceOffer): FacilitatorObservation
  /** Every facilitator in use, for `stack status`. */
  list(): { network: string; url: string; reachable?: boolean; detail?: string }[]
  refreshAll(): Promise<void>
  close(): Promise<void>
}

export type RegistryOptions = {
  config: StackConfig
  devChain?: LocalChain | undefined
  env?: NodeJS.ProcessEnv
  /** Receipt polling of the local facilitator (ms). */
  receiptPollMs?: number
}

function matchesNetwork(entry: string, caip2: string): boolean {
  if (entry === '*') return true
  return entry === caip2 || findChain(entry)?.caip2 === caip2
}

/** The configured facilitator for a network: a URL, "local", or undefined (none; mainnets need an explicit one). */
export function facilitatorChoice(config: StackConfig, devChain: Pick<LocalChain, 'caip2'> | undefined, caip2: string, offer?: ServiceOffer): string | undefined {
  const override = offer?.spec.payment.facilitator
  if (override) return override
  const entries = config.facilitators
  const exact = entries.find((e) => e.network !== '*' && matchesNetwork(e.network, caip2))
  if (exact) return exact.url
  if (devChain?.caip2 === caip2) return 'local'
  const wildcard = entries.find((e) => e.network === '*')
  if (wildcard) return wildcard.url
  if (config.defaults.facilitator) return config.defaults.facilitator
  const chain = findChain(caip2)
  if (chain?.testnet && chain.chainId !== 31337) return DEFAULT_TESTNET_FACILITATOR
  return undefined
}

export function createFacilitatorRegistry(opts: RegistryOptions): FacilitatorRegistry {
  const { config, devChain } = opts
  const remotes = new Map<string, Facilitator>()
  let local: Facilitator | undefined
  const used = new Map<string, string>() // caip2 -> facilitator id, for list()

  const localFor = (caip2: string): Facilitator | undefined => {
    if (!devChain || devChain.caip2 !== caip2) return undefined
    local ??= createLocalFacilitator({
      rpcUrl: devChain.rpcUrl, chainId: devChain.chainId, privateKey: devChain.settler.privateKey as Hex,
      // the dev chain (anvil) mines each transaction as it arrives, whatever chain id it carries
      receiptPollMs: opts.receiptPollMs ?? 20,
    })
    return local
  }
  const remoteFor = (url: string): Facilitator => {
    const key = url.replace(/\/+$/, '')
    let f = remotes.get(key)
    if (!f) {
      const entry = config.facilitators.find((e) => e.url.replace(/\/+$/, '') === key)
      f = createRemoteFacilitator({ url: key, headers: entry?.headers, ...(opts.env ? { env: opts.env } : {}) })
      remotes.set(key, f)
      void f.refresh()
    }
    return f
  }
  const byUrl = (url: string, caip2: string) => (url === 'local' ? localFor(caip2) : remoteFor(url))

  const choice = (caip2: string, offer?: ServiceOffer) => facilitatorChoice(config, devChain, caip2, offer)

  const registry: FacilitatorRegistry = {
    facilitatorFor(caip2, offer) {
      const c = choice(caip2, offer)
      if (!c) return undefined
      const f = byUrl(c, caip2)
      if (f) used.set(caip2, f.id)
      return f
    },
    byId: (id, caip2) => byUrl(id, caip2),
    observe(caip2, offer) {
      const c = choice(caip2, offer)
      if (!c) return { configured: false, detail: `no facilitator is configured for ${caip2}; add one to stack.yaml facilitators or set payment.facilitator` }
      const f = registry.facilitatorFor(caip2, offer)
      if (!f) return { configured: false, url: c, detail: `the local facilitator settles only on the dev chain${devChain ? ` (${devChain.caip2})` : ', which is not running'}` }
      return f.observe(caip2)
    },
    list() {
      return [...used].map(([network, id]) => {
        const f = id === 'local' ? local : remotes.get(id)
        const o = f?.observe(network)
        return { network, url: id, ...(o?.reachable === undefined ? {} : { reachable: o.reachable }), ...(o?.detail ? { detail: o.detail } : {}) }
      })
    },
    async refreshAll() {
      await Promise.all([...remotes.values(), ...(local ? [local] : [])].map((f) => f.refresh()))
    },
    async close() {
      await Promise.all([...remotes.values(), ...(local ? [local] : [])].map((f) => f.close()))
      remotes.clear()
      local = undefined
    },
  }
  return registry
}
