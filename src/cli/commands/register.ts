/**
 * `vend sell register`: register the stack as an ERC-8004 agent on each chain (once per chain, ever), point it
 * at <public URL>/.well-known/agent-registration.json, set the x402 metadata, and optionally bind the payTo
 * address as the agent wallet. Extends the `sell` group (created here when absent).
 */
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { getAddress, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { DaemonStatus } from '../../engine/api.ts'
import { BaseError, InvalidInputError } from '../../errors/base.ts'
import { chainClients, rpcUrlFor } from '../../identity/chainClients.ts'
import type { ProgressEvent } from '../../identity/erc8004.ts'
import { saveProfile } from '../../identity/identityStore.ts'
import { readPassphrase } from '../../identity/passphrase.ts'
import { registerStack, type ChainRegistrationResult, type RegisterTarget } from '../../identity/registerStack.ts'
import { identityPublicUrl } from '../../identity/stackIdentity.ts'
import { loadWallet, parsePrivateKey, walletAddress } from '../../identity/wallet.ts'
import { isAddress, resolveChain, type Address, type ChainInfo } from '../../offer/networks.ts'
import { openDatabase } from '../../state/db.ts'
import { listOfferFiles } from '../../state/offerStore.ts'
import { readStackConfig, type StackConfig } from '../../state/stackConfig.ts'
import type { CliContext } from '../context.ts'
import { engineFor } from '../engine.ts'
import { json } from '../format.ts'

type RegisterFlags = {
  chain?: string
  name?: string
  description?: string
  image?: string
  agentWallet?: string
  agentWalletKeyFile?: string
  agentWalletSignature?: string
  agentWalletDeadline?: string
  rpcUrl?: string
  passwordFile?: string
  json?: boolean
}

export function register(program: Command, ctx: CliContext): void {
  const sell = program.commands.find((c) => c.name() === 'sell') ?? program.command('sell').description('Create and manage offers (what this stack sells).')
  sell.command('register')
    .description('Register the stack as an ERC-8004 agent (once per chain) pointing at its registration file.')
    .option('--chain <chains>', 'comma-separated chains (default: the chains of the offers that register)')
    .option('--name <name>', 'agent name in the registration file (stack-wide; wins over the offers\' --register-name)')
    .option('--description <text>', 'agent description in the registration file (stack-wide)')
    .option('--image <url>', 'agent image URL (stack-wide)')
    .option('--agent-wallet <address>', 'bind this address (usually the offers\' payTo) as the agent wallet')
    .option('--agent-wallet-key-file <file>', 'key of --agent-wallet, to sign its consent here')
    .option('--agent-wallet-signature <hex>', 'AgentWalletSet signature made elsewhere over the printed typed data')
    .option('--agent-wallet-deadline <seconds>', 'the deadline of that typed data (unix seconds)')
    .option('--rpc-url <url>', 'JSON-RPC endpoint (one chain only; default: VEND_RPC_URL_<CHAIN> or the chain\'s public endpoint)')
    .option('--password-file <file>', 'read the wallet passphrase from this file')
    .option('--json', 'print the result per chain as JSON')
    .addHelpText('after', `
The stack wallet (\`vend wallet show\`) owns the agent and pays gas; payments go to each offer's payTo.

Examples:
  vend sell register
  vend sell register --chain base-sepolia,base --name "Acme weather" --image https://acme.example/logo.png
  vend sell register --agent-wallet 0xPayTo... --agent-wallet-key-file ./payto.key`)
    .action(async (flags: RegisterFlags) => runRegister(ctx, flags))
}

async function runRegister(ctx: CliContext, flags: RegisterFlags): Promise<void> {
  const paths = ctx.paths()
  const config = readStackConfig(paths)
  const chains = selectChains(ctx, flags.chain, config)
  if (flags.rpcUrl && chains.length > 1) throw new InvalidInputError('--rpc-url works with one chain at a time.', { hint: 'Run the command once per chain with its own --rpc-url.' })
  const agentWallet = flags.agentWallet === undefined ? undefined : parseAddress(flags.agentWallet, '--agent-wallet')
  const agentWalletAccount = flags.agentWalletKeyFile ? privateKeyToAccount(parsePrivateKey(readText(flags.agentWalletKeyFile, '--agent-wallet-key-file'))) : undefined
  const agentWalletSignature = parseSignature(flags)
  if ((agentWalletAccount || agentWalletSignature) && !agentWallet) {
    throw new InvalidInputError('--agent-wallet-key-file and --agent-wallet-signature need --agent-wallet <address>.')
  }

  const account = walletAddress(paths) ? await loadWallet(paths, await readPassphrase({ env: ctx.env, passwordFile: flags.passwordFile, canPrompt: ctx.canPrompt() })) : undefined
  const targets: RegisterTarget[] = []
  for (const chain of chains) {
    const { publicClient, walletClient } = chainClients(chain, await rpcUrl(ctx, chain, flags.rpcUrl), account)
    targets.push({ chain, publicClient, walletClient })
  }
  const publicUrl = identityPublicUrl(config, config.publicUrl || !config.dev?.enabled ? undefined : (await daemonStatus(ctx))?.url)
  payToNote(ctx, account?.address, agentWallet)

  const db = openDatabase(paths.db)
  let results: ChainRegistrationResult[]
  try {
    if (flags.name !== undefined || flags.description !== undefined || flags.image !== undefined) {
      saveProfile(db, { name: flags.name, description: flags.description, image: flags.image })
    }
    results = await registerStack({
      db, targets, publicUrl, agentWallet, agentWalletAccount, agentWalletSignature,
      onProgress: flags.json ? undefined : (chain, e) => ctx.io.err(progressLine(chain, e)),
    })
  } finally {
    db.close()
  }

  if (flags.json) ctx.io.out(json(results.map(resultJson)))
  else for (const r of results) ctx.io.out(resultLines(r).join('\n'))
  const pending = results.filter((r) => r.status === 'pending')
  if (pending.length) {
    const p = pending[0]!
    throw new BaseError(`Registration is not finished on ${pending.map((r) => r.chain.name).join(', ')}: ${p.status === 'pending' ? p.message : ''}`, {
      hint: p.status === 'pending' ? `Finish with \`${p.command}\`.` : undefined,
    })
  }
}

function selectChains(ctx: CliContext, flag: string | undefined, config: StackConfig): ChainInfo[] {
  if (flag !== undefined) {
    const names = flag.split(',').map((s) => s.trim()).filter(Boolean)
    if (!names.length) throw new InvalidInputError('--chain is empty.', { hint: 'Pass one or more chains, e.g. --chain base-sepolia,base.' })
    return unique(names.map((n) => resolveChain(n)))
  }
  const fromOffers = listOfferFiles(ctx.paths()).flatMap((r) => (r.offer?.spec.registration.enabled ? [r.offer.spec.payment.network] : []))
  const names = fromOffers.length ? fromOffers : config.defaults.chain ? [config.defaults.chain] : []
  if (!names.length) throw new InvalidInputError('No chain to register on: no offer registers and stack.yaml sets no defaults.chain.', { hint: 'Pass --chain, e.g. --chain base-sepolia.' })
  return unique(names.map((n) => resolveChain(n, 'spec.payment.network')))
}

async function rpcUrl(ctx: CliContext, chain: ChainInfo, explicit: string | undefined): Promise<string> {
  if (explicit || chain.chainId !== 31337) return rpcUrlFor(chain, ctx.env, explicit)
  if (ctx.env.VEND_RPC_URL_LOCAL) return ctx.env.VEND_RPC_URL_LOCAL
  const status = await daemonStatus(ctx)
  if (status?.devChain?.rpcUrl) return status.devChain.rpcUrl
  throw new BaseError('The dev chain is not running, so there is nothing to register on for chain local.', { hint: 'Start it with `vend stack up --dev`, or pass --rpc-url.' })
}

const statusOf = new WeakMap<CliContext, Promise<DaemonStatus | undefined>>()

/** The running daemon's status (dev chain RPC, URL), asked once per command; undefined when it is not reachable. */
function daemonStatus(ctx: CliContext): Promise<DaemonStatus | undefined> {
  let p = statusOf.get(ctx)
  if (!p) {
    p = engineFor(ctx).then((e) => e.status()).catch(() => undefined)
    statusOf.set(ctx, p)
  }
  return p
}

function payToNote(ctx: CliContext, owner: Address | undefined, agentWallet: Address | undefined): void {
  if (!owner || agentWallet) return
  const payTos = unique(listOfferFiles(ctx.paths()).flatMap((r) => (r.offer?.spec.registration.enabled ? [getAddress(r.offer.spec.payment.payTo)] : [])))
  const other = payTos.filter((p) => p !== getAddress(owner))
  if (!other.length) return
  ctx.io.err(`Note: the stack wallet ${owner} owns the agent (it signs the registration and pays gas); payments go to ${other.join(', ')}. ` +
    `To publish that address as the agent wallet, run \`vend sell register --agent-wallet ${other[0]}\` (with --agent-wallet-key-file, or sign the message it prints).`)
}

function progressLine(chain: ChainInfo, e: ProgressEvent): string {
  switch (e.step) {
    case 'submitting': return `${chain.name}: sending ${e.action}…`
    case 'submitted': return `${chain.name}: ${e.action} sent (${e.txHash}), waiting for the receipt…`
    case 'confirmed': return `${chain.name}: ${e.action} confirmed in block ${e.blockNumber}`
    case 'skipped': return `${chain.name}: ${e.action} not needed: ${e.reason}`
  }
}

function resultLines(r: ChainRegistrationResult): string[] {
  if (r.status === 'pending') return [`${r.chain.name}: pending (AwaitingRegistration): ${r.message}`, `  finish with: ${r.command}`]
  const what = r.status === 'registered' ? 'registered' : r.status === 'recovered' ? 'already registered (found on chain)' : 'already registered'
  const lines = [`${r.chain.name}: agent ${r.agentId} ${what} on ${r.registry}${r.txHash ? ` (tx ${r.txHash})` : ''}`, `  agentURI: ${r.agentURI}`]
  const aw = r.agentWalletResult
  if (aw?.status === 'set') lines.push(`  agent wallet set (tx ${aw.txHash})`)
  if (aw?.status === 'signature-needed') {
    const m = aw.typedData.message
    lines.push(
      `  agent wallet: ${m.newWallet} must sign this EIP-712 message (eth_signTypedData_v4) before ${new Date(Number(m.deadline) * 1000).toISOString()}:`,
      json(aw.typedData).split('\n').map((l) => `    ${l}`).join('\n'),
      `  then run: vend sell register --chain ${r.chain.name} --agent-wallet ${m.newWallet} --agent-wallet-signature <signature> --agent-wallet-deadline ${m.deadline}`,
    )
  }
  return lines
}

function resultJson(r: ChainRegistrationResult): Record<string, unknown> {
  const base = { chain: r.chain.name, caip2: r.chain.caip2, registry: r.registry, agentURI: r.agentURI ?? null, status: r.status }
  if (r.status === 'pending') return { ...base, reason: r.reason, message: r.message, command: r.command }
  return {
    ...base, agentId: r.agentId.toString(), owner: r.owner, registrationTxHash: r.txHash ?? null, uriUpdated: r.uriUpdated, metadataChanged: r.metadataChanged,
    agentWallet: r.agentWalletResult ?? null,
  }
}

function parseSignature(flags: RegisterFlags): { signature: Hex; deadline: bigint } | undefined {
  if (flags.agentWalletSignature === undefined && flags.agentWalletDeadline === undefined) return undefined
  if (!flags.agentWalletSignature || !/^0x[0-9a-fA-F]+$/.test(flags.agentWalletSignature)) {
    throw new InvalidInputError('--agent-wallet-signature must be the 0x-hex signature.', { hint: 'Pass it with the --agent-wallet-deadline of the message that was signed.' })
  }
  if (!flags.agentWalletDeadline || !/^\d+$/.test(flags.agentWalletDeadline)) {
    throw new InvalidInputError('--agent-wallet-deadline must be the deadline (unix seconds) of the signed message.', { hint: 'Copy it from the typed data printed by `vend sell register --agent-wallet`.' })
  }
  return { signature: flags.agentWalletSignature as Hex, deadline: BigInt(flags.agentWalletDeadline) }
}

function parseAddress(value: string, flag: string): Address {
  if (!isAddress(value) || /^0x0{40}$/.test(value)) throw new InvalidInputError(`Invalid ${flag} "${value}": expected a non-zero 0x address.`)
  return getAddress(value)
}

function readText(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new InvalidInputError(`Cannot read ${file} (${flag}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`)
  }
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)]
}
