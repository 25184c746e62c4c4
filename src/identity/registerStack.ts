/**
 * Register the stack as one ERC-8004 agent per chain: agentURI = <public URL>/.well-known/agent-registration.json.
 * Never mints twice: the db record is checked against the chain, and without a record the registry's Registered
 * logs (owner + URI) are searched first. When it cannot proceed without the operator (no wallet, no public URL,
 * no gas, no registry) the chain's result is pending with the exact command that finishes it.
 * Used by `vend sell register` and the daemon's automatic registration; `registrationObservation` feeds the
 * reconciler's Registered condition from the chain.
 */
import { BaseError as ViemBaseError, formatEther, getAddress, type Hex, type LocalAccount, type PublicClient } from 'viem'
import { BaseError } from '../errors/base.ts'
import type { Address, ChainInfo } from '../offer/networks.ts'
import type { RegistrationObservation } from '../reconciler/types.ts'
import type { Db } from '../state/db.ts'
import {
  findRegistration, getRegistration, IDENTITY_REGISTRY_ABI, registerAgent, setAgentWallet, setX402Metadata, updateAgentURI,
  type ProgressEvent, type SetAgentWalletResult, type SignerClient,
} from './erc8004.ts'
import { rpcEnvName } from './chainClients.ts'
import { withFileLock } from './fileLock.ts'
import { forgetIdentity, getIdentity, recordIdentity, updateIdentityUri, type IdentityRecord } from './identityStore.ts'
import { agentUriFor } from './registrationFile.ts'

export const AWAITING_REGISTRATION = 'AwaitingRegistration'

export type RegisterTarget = {
  chain: ChainInfo
  publicClient: PublicClient
  /** The stack wallet's signer on this chain; undefined when the stack has no wallet (or it is locked). */
  walletClient: SignerClient | undefined
  /** Default: chain.identityRegistry. */
  registry?: Address | undefined
}

export type RegisterStackOptions = {
  db: Db
  targets: readonly RegisterTarget[]
  /** The stack's public base URL; undefined = not set. */
  publicUrl: string | undefined
  /** Bind this address as the agent wallet (payTo) when it differs from the owner. */
  agentWallet?: Address | undefined
  /** Its key, when available here; else the typed data to sign is returned. */
  agentWalletAccount?: LocalAccount | undefined
  /** A signature made elsewhere over the typed data printed earlier, with its deadline. */
  agentWalletSignature?: { signature: Hex; deadline: bigint } | undefined
  onProgress?: ((chain: ChainInfo, event: ProgressEvent) => void) | undefined
  /** Log search limits for RPC endpoints that cap eth_getLogs ranges (see findRegistration). */
  logSearch?: { logWindow?: bigint; maxWindows?: number } | undefined
}

export type PendingRegistration = { reason: typeof AWAITING_REGISTRATION; message: string; command: string }

export type ChainRegistrationResult = { chain: ChainInfo; registry: Address; agentURI: string | undefined } & (
  | ({ status: 'pending' } & PendingRegistration)
  | {
    /** minted now, found in the db record, or recovered from the registry's logs after the record was lost */
    status: 'registered' | 'existing' | 'recovered'
    agentId: bigint
    owner: Address
    txHash: Hex | undefined
    uriUpdated: boolean
    metadataChanged: boolean
    agentWalletResult: SetAgentWalletResult | undefined
  })

export async function registerStack(opts: RegisterStackOptions): Promise<ChainRegistrationResult[]> {
  const results: ChainRegistrationResult[] = []
  // One registration at a time per stack, across processes (the CLI and the daemon): check-then-mint is atomic.
  const lock = opts.db.memory ? undefined : `${opts.db.name}.identity.lock`
  for (const target of opts.targets) {
    const run = () => registerOnChain(opts, target).catch((err: unknown) => { throw rpcFailure(target.chain, err) })
    results.push(await (lock ? withFileLock(lock, run) : run()))
  }
  return results
}

/** viem's transport errors become one line that says which chain's endpoint failed and where to change it. */
function rpcFailure(chain: ChainInfo, err: unknown): unknown {
  if (!(err instanceof ViemBaseError)) return err
  const detail = err.details && err.details !== err.shortMessage ? ` (${err.details})` : ''
  return new BaseError(`The ${chain.name} RPC endpoint failed: ${err.shortMessage.replace(/\.$/, '')}${detail}.`, {
    hint: `Check the endpoint (--rpc-url or ${rpcEnvName(chain)}) and run the command again.`, cause: err,
  })
}

/** The command that finishes a registration on `chain`. */
export function registerCommand(chain: ChainInfo): string {
  return `vend sell register --chain ${chain.name}`
}

async function registerOnChain(opts: RegisterStackOptions, target: RegisterTarget): Promise<ChainRegistrationResult> {
  const { db } = opts
  const { chain, publicClient, walletClient } = target
  const registry = getAddress(target.registry ?? requireRegistry(chain))
  const agentURI = opts.publicUrl ? agentUriFor(opts.publicUrl) : undefined
  const pending = (message: string, command = registerCommand(chain)): ChainRegistrationResult =>
    ({ chain, registry, agentURI, status: 'pending', reason: AWAITING_REGISTRATION, message, command })

  if (!walletClient) return pending('The stack has no wallet to sign the ERC-8004 registration.', `vend wallet create && ${registerCommand(chain)}`)
  if (!agentURI) {
    return pending('The stack has no public URL, so there is no agentURI to register.', `vend stack up --public-url https://<your-host> && ${registerCommand(chain)}`)
  }
  const code = await publicClient.getCode({ address: registry })
  if (!code || code === '0x') return pending(`No ERC-8004 Identity Registry is deployed at ${registry} on ${chain.name}.`)

  const owner = getAddress(walletClient.account.address)
  const progress = opts.onProgress ? (e: ProgressEvent) => opts.onProgress!(chain, e) : undefined
  const write = { publicClient, walletClient, registry, onProgress: progress }

  let agent = await knownAgent(db, target, registry, owner)
  let status: 'registered' | 'existing' | 'recovered' = 'existing'
  if (!agent) {
    const found = await findRegistration({ publicClient, registry, owner, agentURI, ...opts.logSearch })
    if (found) {
      agent = recordIdentity(db, { chain: chain.caip2, agentId: found.agentId, registry, txHash: found.txHash, agentUri: agentURI, owner })
      status = 'recovered'
    }
  }
  if (!agent) {
    const short = await gasShortfall(publicClient, registry, owner, agentURI)
    if (short) {
      const cost = short.need === undefined ? '' : `; registering needs about ${formatEther(short.need)} ${short.symbol}`
      return pending(`The stack wallet ${owner} has ${formatEther(short.balance)} ${short.symbol} on ${chain.name}${cost}. Send gas to it, then register.`)
    }
    const minted = await registerAgent({ ...write, agentURI })
    agent = recordIdentity(db, { chain: chain.caip2, agentId: minted.agentId, registry, txHash: minted.txHash, agentUri: agentURI, owner })
    status = 'registered'
  }

  const uri = await updateAgentURI({ ...write, agentId: agent.agentId, agentURI })
  if (uri.changed) updateIdentityUri(db, chain.caip2, agentURI)
  const metadata = await setX402Metadata({ ...write, agentId: agent.agentId })
  const agentWalletResult = opts.agentWallet && getAddress(opts.agentWallet) !== owner
    ? await setAgentWallet({
      ...write, agentId: agent.agentId, newWallet: opts.agentWallet, newWalletAccount: opts.agentWalletAccount,
      signature: opts.agentWalletSignature?.signature, deadline: opts.agentWalletSignature?.deadline,
    })
    : undefined
  return {
    chain, registry, agentURI, status, agentId: agent.agentId, owner, txHash: agent.txHash,
    uriUpdated: uri.changed, metadataChanged: metadata.changed, agentWalletResult,
  }
}

/** The recorded agent, if the chain still has it; a record the chain lost (reset dev chain) is forgotten. */
async function knownAgent(db: Db, target: RegisterTarget, registry: Address, owner: Address): Promise<IdentityRecord | undefined> {
  const record = getIdentity(db, target.chain.caip2)
  if (!record || getAddress(record.registry) !== registry) return undefined
  const onChain = await getRegistration(target.publicClient, registry, record.agentId)
  if (!onChain) {
    forgetIdentity(db, target.chain.caip2)
    return undefined
  }
  if (onChain.owner !== owner) {
    throw new BaseError(`Agent ${record.agentId} on ${target.chain.name} belongs to ${onChain.owner}, not to the stack wallet ${owner}.`, {
      hint: 'Import the wallet that registered it (`vend wallet import`), or transfer the agent to the stack wallet.',
    })
  }
  return record
}

/** What registering would cost when the wallet cannot pay it (need undefined when it cannot be estimated). */
async function gasShortfall(publicClient: PublicClient, registry: Address, owner: Address, agentURI: string): Promise<{ balance: bigint; need: bigint | undefined; symbol: string } | undefined> {
  const symbol = publicClient.chain?.nativeCurrency.symbol ?? 'ETH'
  const [balance, need] = await Promise.all([
    publicClient.getBalance({ address: owner }),
    Promise.all([
      publicClient.estimateContractGas({ address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'register', args: [agentURI], account: owner }),
      publicClient.getGasPrice(),
    ]).then(([gas, price]) => gas * price, () => undefined),
  ])
  if (balance === 0n || (need !== undefined && balance < need)) return { balance, need, symbol }
  return undefined // enough, or not estimable: the transaction itself will say what is wrong
}

function requireRegistry(chain: ChainInfo): Address {
  if (!chain.identityRegistry) throw new BaseError(`No ERC-8004 Identity Registry is known for ${chain.name}.`, { hint: 'Register on another chain with --chain.' })
  return chain.identityRegistry
}

/** A pending registration as the reconciler sees it. */
export function pendingObservation(p: PendingRegistration): RegistrationObservation {
  return { pendingReason: p.reason, pendingMessage: `${p.message} Run \`${p.command}\` to finish.` }
}

/**
 * What the reconciler needs for the Registered condition of an offer on `chain`, read from the chain: the
 * recorded agent exists on the registry and its tokenURI is the served agentURI. `pending` (from the last
 * registerStack result) explains why there is no agent yet.
 */
export async function registrationObservation(args: {
  publicClient: PublicClient
  chain: ChainInfo
  record: IdentityRecord | undefined
  publicUrl: string | undefined
  pending?: PendingRegistration | undefined
}): Promise<RegistrationObservation> {
  const { record, chain } = args
  const agentURI = args.publicUrl ? agentUriFor(args.publicUrl) : undefined
  if (!record) return args.pending ? pendingObservation(args.pending) : {}
  let onChain
  try {
    onChain = await getRegistration(args.publicClient, record.registry, record.agentId)
  } catch (err) {
    return { pendingReason: 'RegistryUnreachable', pendingMessage: `Could not read agent ${record.agentId} on ${chain.name}: ${(err as Error).message.split('\n')[0]}` }
  }
  if (!onChain) {
    return { pendingReason: AWAITING_REGISTRATION, pendingMessage: `Agent ${record.agentId} is not on the ${chain.name} registry any more. Run \`${registerCommand(chain)}\` to register again.` }
  }
  const uriMatches = agentURI !== undefined && onChain.tokenURI === agentURI
  const base: RegistrationObservation = { agentId: record.agentId.toString(), uriMatches, ...(record.txHash ? { txHash: record.txHash } : {}) }
  if (uriMatches) return base
  return {
    ...base,
    pendingReason: 'URIMismatch',
    pendingMessage: `Agent ${record.agentId} points at ${onChain.tokenURI || '(no URI)'}, not ${agentURI ?? 'a public URL'}. Run \`${registerCommand(chain)}\` to update it.`,
  }
}
