/**
 * ERC-8004 Identity Registry actions (viem): register an agent, read a registration, set the `x402` metadata
 * (read before write), bind an agent wallet with its EIP-712 consent, and find an earlier registration in the
 * `Registered` logs. Every write waits for its receipt and reports progress through `onProgress`.
 */
import {
  BaseError as ViemBaseError, ContractFunctionRevertedError, getAddress, parseAbi, parseEventLogs, stringToHex, hexToString,
  type Account, type Chain, type Hex, type LocalAccount, type PublicClient, type Transport, type WalletClient,
} from 'viem'
import { BaseError } from '../errors/base.ts'
import type { Address } from '../offer/networks.ts'

export const IDENTITY_REGISTRY_ABI = parseAbi([
  'function register(string agentURI) returns (uint256 agentId)',
  'function setAgentURI(uint256 agentId, string newURI)',
  'function tokenURI(uint256 agentId) view returns (string)',
  'function ownerOf(uint256 agentId) view returns (address)',
  'function balanceOf(address owner) view returns (uint256)',
  'function getMetadata(uint256 agentId, string metadataKey) view returns (bytes)',
  'function setMetadata(uint256 agentId, string metadataKey, bytes metadataValue)',
  'function getAgentWallet(uint256 agentId) view returns (address)',
  'function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes signature)',
  'event Registered(uint256 indexed agentId, string agentURI, address indexed owner)',
  'event MetadataSet(uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue)',
  'event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy)',
])

/** The metadata entry that marks the agent as an x402 seller. */
export const X402_METADATA_KEY = 'x402'
export const X402_METADATA_VALUE = '{"x402":true}'

/** The registry's limit is 5 minutes; 240 s leaves room for the transaction to be mined. */
export const AGENT_WALLET_DEADLINE_SECONDS = 240n

export type SignerClient = WalletClient<Transport, Chain, Account>

export type ProgressEvent =
  | { step: 'submitting'; action: string }
  | { step: 'submitted'; action: string; txHash: Hex }
  | { step: 'confirmed'; action: string; txHash: Hex; blockNumber: bigint }
  | { step: 'skipped'; action: string; reason: string }

export type OnProgress = (event: ProgressEvent) => void

export type RegistryCall = { publicClient: PublicClient; registry: Address }
export type RegistryWrite = RegistryCall & { walletClient: SignerClient; onProgress?: OnProgress | undefined }

export class RegistryTxError extends BaseError {
  override name = 'RegistryTxError'
}

/** `register(agentURI)`: mint the agent to the signer; agentId comes from the `Registered` log of the receipt. */
export async function registerAgent(args: RegistryWrite & { agentURI: string }): Promise<{ agentId: bigint; txHash: Hex; blockNumber: bigint }> {
  const { publicClient, walletClient, registry, agentURI } = args
  const receipt = await send(args, 'register', () => walletClient.writeContract({
    address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'register', args: [agentURI], chain: walletClient.chain, account: walletClient.account,
  }))
  const [event] = parseEventLogs({ abi: IDENTITY_REGISTRY_ABI, logs: receipt.logs, eventName: 'Registered' })
    .filter((l) => l.address.toLowerCase() === registry.toLowerCase())
  if (!event) {
    throw new RegistryTxError(`The register transaction ${receipt.transactionHash} emitted no Registered event at ${registry}.`, {
      hint: 'Check that the address is an ERC-8004 Identity Registry on this chain.',
    })
  }
  await waitForAgent(publicClient, registry, event.args.agentId)
  return { agentId: event.args.agentId, txHash: receipt.transactionHash, blockNumber: receipt.blockNumber }
}

export type Registration = { agentId: bigint; owner: Address; tokenURI: string; agentWallet: Address | undefined }

/** The agent's owner, URI and agent wallet as the chain has them now; undefined when the agentId does not exist. */
export async function getRegistration(publicClient: PublicClient, registry: Address, agentId: bigint): Promise<Registration | undefined> {
  let owner: Address
  try {
    owner = await publicClient.readContract({ address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'ownerOf', args: [agentId] })
  } catch (err) {
    if (isRevert(err)) return undefined
    throw err
  }
  const [tokenURI, wallet] = await Promise.all([
    publicClient.readContract({ address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'tokenURI', args: [agentId] }),
    publicClient.readContract({ address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'getAgentWallet', args: [agentId] }),
  ])
  return { agentId, owner: getAddress(owner), tokenURI, agentWallet: /^0x0{40}$/i.test(wallet) ? undefined : getAddress(wallet) }
}

export type FindOptions = {
  owner: Address
  agentURI: string
  /** Blocks per eth_getLogs window when the RPC refuses a whole-chain query (default 10,000). */
  logWindow?: bigint
  /** How many windows to scan back from the head in that case (default 200). */
  maxWindows?: number
}

/**
 * An earlier `register` by `owner` with exactly `agentURI` that the owner still holds (so a lost local record
 * never leads to a second mint). An owner holding no agent (ERC-721 balance 0) needs no log search; otherwise
 * the Registered logs are searched, newest first: in one query, or in windows back from the head when the RPC
 * limits log ranges.
 */
export async function findRegistration(args: RegistryCall & FindOptions): Promise<{ agentId: bigint; txHash: Hex } | undefined> {
  const { publicClient, registry, owner, agentURI } = args
  const held = await publicClient.readContract({ address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'balanceOf', args: [owner] })
  if (held === 0n) return undefined
  const match = async (fromBlock: bigint, toBlock: bigint | 'latest') => {
    const logs = await publicClient.getContractEvents({
      address: registry, abi: IDENTITY_REGISTRY_ABI, eventName: 'Registered', args: { owner }, fromBlock, toBlock, strict: true,
    })
    for (const log of [...logs].reverse()) {
      if (log.args.agentURI !== agentURI) continue
      const current = await getRegistration(publicClient, registry, log.args.agentId)
      if (current && current.owner === getAddress(owner)) return { agentId: log.args.agentId, txHash: log.transactionHash }
    }
    return undefined
  }
  let whole: unknown
  try {
    return await match(0n, 'latest')
  } catch (err) {
    whole = err
  }
  const window = args.logWindow ?? 10_000n
  let to = await publicClient.getBlockNumber()
  for (let i = 0; i < (args.maxWindows ?? 200) && to >= 0n; i++) {
    const from = to >= window - 1n ? to - window + 1n : 0n
    let found
    try {
      found = await match(from, to)
    } catch (err) {
      throw new RegistryTxError(`Could not search the Registered logs of ${registry} to make sure the stack is not registered already: ${shortViem(err)}.`, {
        hint: 'Use an RPC endpoint that serves eth_getLogs (--rpc-url or VEND_RPC_URL_<CHAIN>), then run the command again.',
        cause: whole ?? err,
      })
    }
    if (found) return found
    if (from === 0n) return undefined
    to = from - 1n
  }
  throw new RegistryTxError(`The stack wallet ${owner} already holds an agent on ${registry}, and the RPC endpoint's log limits hide whether it is this stack's.`, {
    hint: 'Use an RPC endpoint that serves eth_getLogs over the whole chain (--rpc-url or VEND_RPC_URL_<CHAIN>), then run the command again.',
  })
}

/** `setAgentURI` when the registered URI differs (the public URL changed); no transaction when it is equal. */
export async function updateAgentURI(args: RegistryWrite & { agentId: bigint; agentURI: string }): Promise<{ changed: boolean; txHash?: Hex }> {
  const { publicClient, walletClient, registry, agentId, agentURI } = args
  const current = await publicClient.readContract({ address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'tokenURI', args: [agentId] })
  if (current === agentURI) {
    args.onProgress?.({ step: 'skipped', action: 'setAgentURI', reason: 'the registered URI is already the served one' })
    return { changed: false }
  }
  const receipt = await send(args, 'setAgentURI', () => walletClient.writeContract({
    address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'setAgentURI', args: [agentId, agentURI], chain: walletClient.chain, account: walletClient.account,
  }))
  return { changed: true, txHash: receipt.transactionHash }
}

/**
 * Set metadata `key` (default `x402` = {"x402":true}), reading it first: an unchanged value is not rewritten
 * (some registries revert on equal values), so a second call sends no transaction.
 */
export async function setX402Metadata(args: RegistryWrite & { agentId: bigint; key?: string; value?: string }): Promise<{ changed: boolean; txHash?: Hex }> {
  const { publicClient, walletClient, registry, agentId } = args
  const key = args.key ?? X402_METADATA_KEY
  const value = stringToHex(args.value ?? X402_METADATA_VALUE)
  const current = await publicClient.readContract({ address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'getMetadata', args: [agentId, key] })
  if (current.toLowerCase() === value.toLowerCase()) {
    args.onProgress?.({ step: 'skipped', action: `setMetadata(${key})`, reason: 'the value on chain is already current' })
    return { changed: false }
  }
  const receipt = await send(args, `setMetadata(${key})`, () => walletClient.writeContract({
    address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'setMetadata', args: [agentId, key, value], chain: walletClient.chain, account: walletClient.account,
  }))
  return { changed: true, txHash: receipt.transactionHash }
}

/** The metadata value as text (empty string when unset). */
export async function getMetadataText(publicClient: PublicClient, registry: Address, agentId: bigint, key: string): Promise<string> {
  const raw = await publicClient.readContract({ address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'getMetadata', args: [agentId, key] })
  return raw === '0x' ? '' : hexToString(raw)
}

const AGENT_WALLET_TYPES = {
  AgentWalletSet: [
    { name: 'agentId', type: 'uint256' }, { name: 'newWallet', type: 'address' },
    { name: 'owner', type: 'address' }, { name: 'deadline', type: 'uint256' },
  ],
} as const

export type AgentWalletTypedData = {
  domain: { name: 'ERC8004IdentityRegistry'; version: '1'; chainId: number; verifyingContract: Address }
  types: typeof AGENT_WALLET_TYPES
  primaryType: 'AgentWalletSet'
  message: { agentId: bigint; newWallet: Address; owner: Address; deadline: bigint }
}

/** The EIP-712 AgentWalletSet message the new wallet signs to consent (deadline: the chain's time + 240 s). */
export async function agentWalletTypedData(args: RegistryCall & { agentId: bigint; newWallet: Address; owner: Address; deadline?: bigint }): Promise<AgentWalletTypedData> {
  const { publicClient, registry, agentId } = args
  const [chainId, deadline] = await Promise.all([
    publicClient.getChainId(),
    args.deadline ?? publicClient.getBlock().then((b) => b.timestamp + AGENT_WALLET_DEADLINE_SECONDS),
  ])
  return {
    domain: { name: 'ERC8004IdentityRegistry', version: '1', chainId, verifyingContract: getAddress(registry) },
    types: AGENT_WALLET_TYPES,
    primaryType: 'AgentWalletSet',
    message: { agentId, newWallet: getAddress(args.newWallet), owner: getAddress(args.owner), deadline },
  }
}

export type SetAgentWalletResult =
  | { status: 'unchanged' }
  | { status: 'set'; txHash: Hex }
  /** The new wallet's key is not here: it must sign `typedData`; then call again with `signature` and the same deadline. */
  | { status: 'signature-needed'; typedData: AgentWalletTypedData }

/**
 * Bind `newWallet` as the agent wallet (where payments go). The new wallet consents with an EIP-712 signature:
 * made here when `newWalletAccount` is given, passed in as `signature` (+ its `deadline`), or else the exact
 * typed data to sign is returned. The transaction is sent by the owner (`walletClient`).
 */
export async function setAgentWallet(args: RegistryWrite & {
  agentId: bigint; newWallet: Address; newWalletAccount?: LocalAccount | undefined; signature?: Hex | undefined; deadline?: bigint | undefined
}): Promise<SetAgentWalletResult> {
  const { publicClient, walletClient, registry, agentId } = args
  const newWallet = getAddress(args.newWallet)
  if (args.newWalletAccount && getAddress(args.newWalletAccount.address) !== newWallet) {
    throw new BaseError(`The key given for the agent wallet belongs to ${args.newWalletAccount.address}, not ${newWallet}.`, { hint: 'Pass the key of the --agent-wallet address.' })
  }
  const current = await getRegistration(publicClient, registry, agentId)
  if (!current) throw new RegistryTxError(`Agent ${agentId} does not exist on registry ${registry}.`, { hint: 'Register the stack first with `vend sell register`.' })
  if (current.agentWallet === newWallet) {
    args.onProgress?.({ step: 'skipped', action: 'setAgentWallet', reason: `the agent wallet is already ${newWallet}` })
    return { status: 'unchanged' }
  }
  const typedData = await agentWalletTypedData({ publicClient, registry, agentId, newWallet, owner: current.owner, deadline: args.signature ? args.deadline : undefined })
  let signature = args.signature
  if (!signature) {
    if (!args.newWalletAccount) return { status: 'signature-needed', typedData }
    signature = await args.newWalletAccount.signTypedData(typedData)
  }
  const receipt = await send(args, 'setAgentWallet', () => walletClient.writeContract({
    address: registry, abi: IDENTITY_REGISTRY_ABI, functionName: 'setAgentWallet',
    args: [agentId, newWallet, typedData.message.deadline, signature], chain: walletClient.chain, account: walletClient.account,
  }))
  return { status: 'set', txHash: receipt.transactionHash }
}

async function send(args: RegistryWrite, action: string, write: () => Promise<Hex>) {
  const { publicClient, onProgress } = args
  onProgress?.({ step: 'submitting', action })
  let txHash: Hex
  try {
    txHash = await write()
  } catch (err) {
    throw new RegistryTxError(`${action} on the identity registry ${args.registry} failed: ${shortViem(err)}.`, {
      hint: revertHint(err), cause: err,
    })
  }
  onProgress?.({ step: 'submitted', action, txHash })
  const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash })
  if (receipt.status !== 'success') {
    throw new RegistryTxError(`${action} transaction ${txHash} reverted.`, { hint: 'Check the transaction in a block explorer; nothing was changed on chain.' })
  }
  onProgress?.({ step: 'confirmed', action, txHash, blockNumber: receipt.blockNumber })
  return receipt
}

/** Some RPC setups answer reads from a node that has not seen the new block yet: wait until the agent is readable. */
async function waitForAgent(publicClient: PublicClient, registry: Address, agentId: bigint): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (await getRegistration(publicClient, registry, agentId)) return
    await new Promise((r) => setTimeout(r, 250 * (attempt + 1)))
  }
  throw new RegistryTxError(`Agent ${agentId} was registered but the RPC endpoint does not show it yet.`, { hint: 'Run `vend sell register` again in a minute: it finds the registration instead of minting again.' })
}

function isRevert(err: unknown): boolean {
  return err instanceof ViemBaseError && Boolean(err.walk((e) => e instanceof ContractFunctionRevertedError))
}

function shortViem(err: unknown): string {
  if (err instanceof ViemBaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null
    if (revert) return `reverted: ${revert.reason ?? revert.data?.errorName ?? revert.shortMessage}`
    return err.shortMessage.replace(/\.$/, '')
  }
  return (err as Error)?.message ?? String(err)
}

function revertHint(err: unknown): string {
  const text = shortViem(err)
  if (/insufficient funds|exceeds the balance/i.test(text)) return 'Send some native gas token to the stack wallet (`vend wallet show`), then run `vend sell register` again.'
  if (/Not authorized/i.test(text)) return 'Only the agent\'s owner (the stack wallet that registered it) can change it.'
  if (/deadline too far|expired/i.test(text)) return 'Sign a fresh AgentWalletSet message (the deadline must be within 5 minutes of the chain\'s time).'
  if (/invalid wallet sig/i.test(text)) return 'The signature must come from the --agent-wallet address over the exact typed data printed.'
  return 'Check the RPC endpoint and the stack wallet\'s gas balance, then run the command again.'
}
