/**
 * Which facilitator serves a network, from stack.yaml alone (no network I/O): the offer's own
 * payment.facilitator, else a `facilitators` entry for its network (or "*"), else defaults.facilitator, else
 * "local" for the dev chain's network, else the public testnet facilitator for testnets. Mainnets need an
 * explicit choice. The payments module's facilitator registry replaces this with live observations (reachability
 * and /supported) when it is wired into the daemon.
 */
import { findChain } from '../offer/networks.ts'
import type { ServiceOffer } from '../offer/schema.ts'
import type { FacilitatorObservation } from '../reconciler/types.ts'
import { DEFAULT_TESTNET_FACILITATOR, type StackConfig } from '../state/stackConfig.ts'

export type DevChainRef = { rpcUrl: string; chainId: number }

export function facilitatorUrlFor(config: StackConfig, caip2: string, offer: ServiceOffer | undefined, devChain: DevChainRef | undefined): string | undefined {
  const own = offer?.spec.payment.facilitator
  if (own) return own
  const listed = config.facilitators.find((f) => f.network === '*' || findChain(f.network)?.caip2 === caip2)
  if (listed) return listed.url
  if (config.defaults.facilitator) return config.defaults.facilitator
  const chain = findChain(caip2)
  if (devChain && chain?.chainId === devChain.chainId) return 'local'
  if (chain?.testnet && chain.chainId !== 31337) return DEFAULT_TESTNET_FACILITATOR
  return undefined
}

export function configuredFacilitatorFor(config: StackConfig, devChain: DevChainRef | undefined) {
  return (caip2: string, offer: ServiceOffer): FacilitatorObservation => {
    const url = facilitatorUrlFor(config, caip2, offer, devChain)
    if (!url) return { configured: false }
    // The in-process facilitator settles on the dev chain only.
    if (url === 'local' && findChain(caip2)?.chainId !== devChain?.chainId) return { configured: false, url, detail: 'the local facilitator only serves the dev chain; start it with `vend stack up --dev`' }
    return { configured: true, url }
  }
}
