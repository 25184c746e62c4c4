/**
 * Payment flags shared by `sell http`, `sell update` (and `sell inference` later): recipient with its
 * aliases and fallbacks, chain, token and price model. Each resolves to the offer's spec.payment fields.
 */
import { Option, type Command } from 'commander'
import { InvalidInputError } from '../errors/base.ts'
import { CHAIN_NAMES, CHAINS, isAddress, resolveChain, type ChainInfo } from '../offer/networks.ts'
import { toAtomic } from '../offer/price.ts'
import type { StackConfig } from '../state/stackConfig.ts'
import { intFlag } from './flagValues.ts'

export type PaymentFlags = {
  payTo?: string
  wallet?: string
  recipient?: string
  chain?: string
  token?: string
  tokenDecimals?: string
  tokenName?: string
  tokenVersion?: string
  price?: string
  perRequest?: string
  perMtok?: string
}

export const DEFAULT_CHAIN = 'base-sepolia'

export function addPayToFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('-w, --pay-to <address>', 'address that receives the payments (aliases --wallet, --recipient; env VEND_PAY_TO; stack.yaml defaults.payTo)'))
    .addOption(new Option('--wallet <address>').hideHelp())
    .addOption(new Option('--recipient <address>').hideHelp())
}

export function addChainFlag(cmd: Command): Command {
  return cmd.addOption(new Option('--chain <chain>', `chain to be paid on: ${CHAIN_NAMES.join(', ')} or a CAIP-2 id (default: stack.yaml defaults.chain, else the dev chain of a --dev stack, else ${DEFAULT_CHAIN})`))
}

export function addTokenFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--token <USDC|address>', 'token to be paid in: USDC (the chain\'s USDC, default) or a token address'))
    .addOption(new Option('--token-decimals <n>', 'decimals of a --token address'))
    .addOption(new Option('--token-name <name>', 'EIP-712 domain name of a --token address'))
    .addOption(new Option('--token-version <version>', 'EIP-712 domain version of a --token address'))
}

export function addPriceFlags(cmd: Command, opts: { perMTok: boolean }): Command {
  cmd.addOption(new Option('--price <decimal>', 'price per request in token units, e.g. 0.001 (alias --per-request)'))
    .addOption(new Option('--per-request <decimal>').hideHelp())
  if (opts.perMTok) cmd.addOption(new Option('--per-mtok <decimal>', 'price per million tokens in token units (inference offers)'))
  return cmd
}

function single(flags: PaymentFlags, names: [keyof PaymentFlags, string][]): { value: string; flag: string } | undefined {
  const given = names.filter(([k]) => flags[k] !== undefined)
  if (given.length > 1 && new Set(given.map(([k]) => flags[k])).size > 1) {
    throw new InvalidInputError(`${given.map(([, f]) => f).join(' and ')} give different values.`, { hint: `Use only ${given[0]![1]}.` })
  }
  return given[0] ? { value: flags[given[0][0]] as string, flag: given[0][1] } : undefined
}

export function checkAddress(value: string, flag: string): `0x${string}` {
  if (!isAddress(value) || /^0x0{40}$/.test(value)) {
    throw new InvalidInputError(`Invalid ${flag} "${value}": expected a non-zero 0x-prefixed 20-byte hex address.`, {
      hint: 'Give the full address, e.g. 0x70997970C51812dc3A010C7d01b50e0d17dc79C8.',
    })
  }
  return value
}

/** --pay-to (or an alias), then env VEND_PAY_TO, then stack.yaml defaults.payTo. */
export function resolvePayTo(flags: PaymentFlags, env: NodeJS.ProcessEnv, config: StackConfig | undefined): `0x${string}` {
  const f = single(flags, [['payTo', '--pay-to'], ['wallet', '--wallet'], ['recipient', '--recipient']])
  if (f) return checkAddress(f.value, f.flag)
  if (env.VEND_PAY_TO) return checkAddress(env.VEND_PAY_TO, 'VEND_PAY_TO')
  if (config?.defaults.payTo) return checkAddress(config.defaults.payTo, 'defaults.payTo in stack.yaml')
  throw new InvalidInputError('No payment recipient: --pay-to is required.', {
    hint: 'Pass --pay-to <address> (or -w, --wallet, --recipient), set VEND_PAY_TO, or set defaults.payTo in stack.yaml.',
  })
}

/**
 * --chain, else stack.yaml defaults.chain, else the dev chain of a `stack up --dev` stack, else base-sepolia.
 * A mainnet is always an explicit choice.
 */
export function resolveNetwork(flags: PaymentFlags, config: StackConfig | undefined): ChainInfo {
  if (flags.chain !== undefined) return resolveChain(flags.chain, '--chain')
  if (config?.defaults.chain) return resolveChain(config.defaults.chain, 'defaults.chain in stack.yaml')
  const dev = config?.dev?.enabled ? CHAINS.find((c) => c.testnet && c.chainId === config.dev?.chainId) : undefined
  return dev ?? resolveChain(DEFAULT_CHAIN)
}

export type AssetInput = { address: `0x${string}`; decimals?: number; eip712Name?: string; eip712Version?: string }

/** --token: USDC (no asset block: the chain default) or an address with its decimals and EIP-712 domain. */
export function resolveToken(flags: PaymentFlags, chain: ChainInfo): { asset: AssetInput | undefined; decimals: number } {
  const token = flags.token ?? 'USDC'
  const detail = flags.tokenDecimals !== undefined || flags.tokenName !== undefined || flags.tokenVersion !== undefined
  if (token.toUpperCase() === 'USDC') {
    if (detail) throw new InvalidInputError('--token-decimals, --token-name and --token-version only go with --token <address>.', { hint: 'Drop them to be paid in USDC.' })
    if (!chain.usdc) throw new InvalidInputError(`Chain ${chain.name} has no default USDC.`, { hint: 'Pass --token <address> with --token-decimals, --token-name and --token-version.' })
    return { asset: undefined, decimals: chain.usdc.decimals }
  }
  if (!isAddress(token)) {
    throw new InvalidInputError(`Unknown --token "${token}": Vend knows USDC on every chain; any other token needs its address.`, {
      hint: 'Pass --token 0x<address> --token-decimals <n> --token-name <EIP-712 name> --token-version <EIP-712 version>.',
    })
  }
  if (chain.usdc && token.toLowerCase() === chain.usdc.address.toLowerCase() && !detail) return { asset: { address: token }, decimals: chain.usdc.decimals }
  if (flags.tokenDecimals === undefined || flags.tokenName === undefined || flags.tokenVersion === undefined) {
    throw new InvalidInputError(`--token ${token} needs --token-decimals, --token-name and --token-version.`, {
      hint: 'Give the token\'s decimals and the EIP-712 domain name and version it signs transfer authorisations with.',
    })
  }
  const decimals = intFlag(flags.tokenDecimals, '--token-decimals', 0, 36)
  return { asset: { address: token, decimals, eip712Name: flags.tokenName, eip712Version: flags.tokenVersion }, decimals }
}

export type PriceInput = { perRequest: string } | { perMTok: string }

/** The one price model given (--price / --per-request, or --per-mtok), checked against the token's decimals; undefined when none. */
export function resolvePrice(flags: PaymentFlags, decimals: number): PriceInput | undefined {
  const perRequest = single(flags, [['price', '--price'], ['perRequest', '--per-request']])
  if (perRequest && flags.perMtok !== undefined) {
    throw new InvalidInputError(`${perRequest.flag} and --per-mtok are two price models.`, { hint: 'Give only one of them.' })
  }
  if (perRequest) {
    toAtomic(perRequest.value, decimals, perRequest.flag)
    return { perRequest: perRequest.value }
  }
  if (flags.perMtok !== undefined) {
    toAtomic(flags.perMtok, decimals, '--per-mtok')
    return { perMTok: flags.perMtok }
  }
  return undefined
}
