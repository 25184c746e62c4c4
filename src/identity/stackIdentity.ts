/**
 * The daemon's side of ERC-8004: one object that (in the background, one refresh at a time) registers the
 * stack on the chains its offers use, reads each chain's registration back for the reconciler's Registered
 * condition, and builds the registration file for the storefront. The reconcile pass stays synchronous: it
 * reads `observations()`, and `onChange` asks for a new pass when they changed.
 */
import type { LocalAccount } from 'viem'
import type { ChainInfo } from '../offer/networks.ts'
import type { ResolvedOffer } from '../offer/resolveOffer.ts'
import type { CatalogEntry, RegistrationObservation } from '../reconciler/types.ts'
import type { Db } from '../state/db.ts'
import { baseUrl, type StackConfig } from '../state/stackConfig.ts'
import { chainClients, rpcEnvName, type ChainClients } from './chainClients.ts'
import { getIdentity, getProfile, listIdentities } from './identityStore.ts'
import { buildRegistrationFile, ownerRegistration, type RegistrationFile } from './registrationFile.ts'
import { AWAITING_REGISTRATION, registerCommand, registerStack, registrationObservation, type PendingRegistration } from './registerStack.ts'

/**
 * The base URL the agentURI is built from: stack.yaml publicUrl; in dev mode without one, the URL the daemon
 * serves on (loopback is fine for the dev chain). Undefined = no public URL (registration waits for one).
 * The daemon and `vend sell register` both use this, so they agree on the agentURI.
 */
export function identityPublicUrl(config: StackConfig, daemonUrl?: string): string | undefined {
  if (config.publicUrl) return config.publicUrl
  return config.dev?.enabled ? daemonUrl ?? baseUrl(config) : undefined
}

export type StackIdentityOptions = {
  db: Db
  /** The URL the registration file is served at (publicUrl; in dev mode the loopback base URL); read per refresh. */
  publicUrl: () => string | undefined
  /** The unlocked stack wallet, if any; read per refresh. */
  account: () => LocalAccount | undefined
  /** RPC endpoint for a chain (dev chain, VEND_RPC_URL_<CHAIN>, ...), undefined when none is configured. */
  rpcUrl: (chain: ChainInfo) => string | undefined
  /** Register automatically (default true); false = only observe what `vend sell register` did. */
  autoRegister?: boolean
  /** While a chain is not registered yet (no gas, RPC down, ...), try again this often (default 30 s; 0 = never). */
  retryMs?: number
  /** Observations changed: run a reconcile pass. */
  onChange?: () => void
  log?: (event: string, fields: Record<string, unknown>) => void
}

export type StackIdentity = {
  /** Latest Registered observations per offer key (synchronous; for the reconcile pass). */
  observations(): ReadonlyMap<string, RegistrationObservation>
  /** The offers of the last pass; a change of their chains or registration settings starts a refresh. */
  setOffers(offers: Iterable<ResolvedOffer>): void
  /** Register where needed and re-read the chains now; resolves when done (refreshes never overlap). */
  refresh(): Promise<void>
  /** The /.well-known/agent-registration.json document for this catalog. */
  registrationFile(catalog: readonly CatalogEntry[], baseUrl: string): RegistrationFile
  close(): void
}

export function createStackIdentity(opts: StackIdentityOptions): StackIdentity {
  let offers: ResolvedOffer[] = []
  let offersKey = ''
  let observed = new Map<string, RegistrationObservation>()
  let tail: Promise<void> = Promise.resolve()
  let closed = false
  let retry: NodeJS.Timeout | undefined
  const clients = new Map<string, { url: string; account: LocalAccount | undefined; c: ChainClients }>()

  function clientsFor(chain: ChainInfo, account: LocalAccount | undefined): ChainClients | undefined {
    const url = opts.rpcUrl(chain)
    if (!url) return undefined
    const hit = clients.get(chain.caip2)
    if (hit && hit.url === url && hit.account === account) return hit.c
    const c = chainClients(chain, url, account)
    clients.set(chain.caip2, { url, account, c })
    return c
  }

  async function observeChain(chain: ChainInfo): Promise<RegistrationObservation> {
    const account = opts.account()
    const c = clientsFor(chain, account)
    if (!c) {
      return { pendingReason: AWAITING_REGISTRATION, pendingMessage: `No RPC endpoint is configured for ${chain.name}; set ${rpcEnvName(chain)} and restart the stack, or run \`${registerCommand(chain)} --rpc-url <url>\`.` }
    }
    const publicUrl = opts.publicUrl()
    let pending: PendingRegistration | undefined
    if (opts.autoRegister !== false) {
      try {
        const [r] = await registerStack({ db: opts.db, publicUrl, targets: [{ chain, publicClient: c.publicClient, walletClient: c.walletClient }] })
        if (r?.status === 'pending') pending = r
        else if (r?.status === 'registered') opts.log?.('Registered the stack on ERC-8004', { chain: chain.name, agentId: r.agentId.toString(), txHash: r.txHash })
      } catch (err) {
        opts.log?.('ERC-8004 registration failed', { chain: chain.name, error: (err as Error).message })
        pending = { reason: AWAITING_REGISTRATION, message: `Automatic registration failed: ${(err as Error).message.split('\n')[0]}`, command: registerCommand(chain) }
      }
    }
    return registrationObservation({ publicClient: c.publicClient, chain, record: getIdentity(opts.db, chain.caip2), publicUrl, pending })
  }

  async function refreshNow(): Promise<void> {
    if (closed) return
    const enabled = offers.filter((o) => o.offer.spec.registration.enabled)
    const chains = [...new Map(enabled.map((o) => [o.chain.caip2, o.chain])).values()]
    const byChain = new Map<string, RegistrationObservation>()
    for (const chain of chains) byChain.set(chain.caip2, await observeChain(chain))
    const next = new Map(enabled.map((o) => [o.key, byChain.get(o.chain.caip2)!]))
    const changed = JSON.stringify([...next]) !== JSON.stringify([...observed])
    observed = next
    if (changed && !closed) opts.onChange?.()
    scheduleRetry([...byChain.values()].some((o) => o.agentId === undefined || !o.uriMatches))
  }

  function scheduleRetry(needed: boolean): void {
    clearTimeout(retry)
    retry = undefined
    const ms = opts.retryMs ?? 30_000
    if (!needed || closed || ms <= 0) return
    retry = setTimeout(() => { refresh().catch((err) => opts.log?.('ERC-8004 refresh failed', { error: (err as Error).message })) }, ms)
    retry.unref()
  }

  const refresh = (): Promise<void> => {
    const run = tail.then(refreshNow)
    tail = run.catch(() => {})
    return run
  }

  return {
    observations: () => observed,
    setOffers(list) {
      offers = [...list]
      const key = JSON.stringify(offers.map((o) => [o.key, o.chain.caip2, o.offer.spec.registration.enabled]).sort())
      if (key === offersKey) return
      offersKey = key
      refresh().catch((err) => opts.log?.('ERC-8004 refresh failed', { error: (err as Error).message }))
    },
    refresh,
    registrationFile(catalog, baseUrl) {
      // The first published offer that registers speaks for the agent; else the first one that registers.
      const owner = catalog.find((e) => e.resolved.offer.spec.registration.enabled)?.resolved ?? offers.find((o) => o.offer.spec.registration.enabled)
      return buildRegistrationFile({
        catalog, baseUrl, identities: listIdentities(opts.db), profile: getProfile(opts.db),
        owner: owner ? ownerRegistration(owner.offer) : undefined,
      })
    },
    close() {
      closed = true
      clearTimeout(retry)
    },
  }
}
