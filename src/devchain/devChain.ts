/**
 * The dev chain: a local anvil with Circle's USDC, Multicall3 and an ERC-8004 Identity Registry at fixed addresses,
 * a funded dev buyer and a settlement key for the local facilitator. Chain 31337 is network `local`; 84532 is shaped
 * like Base Sepolia (USDC at its canonical address, so stock x402 clients pay it without allow-listing).
 *
 * `ensureDevChain` reuses the recorded chain when it answers, else starts anvil detached on the recorded port with
 * its persisted state; `stopDevChain` stops it gracefully (state dumped) and keeps the record for the next start.
 */
import type { Address, Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { BaseError, InvalidInputError, redactUrl } from '../errors/base.ts'
import { CHAINS, isAddress } from '../offer/networks.ts'
import { toAtomic } from '../offer/price.ts'
import type { HomePaths } from '../state/home.ts'
import { anvilBinary, chainIdAt, freePort, isAlive, looksLikeAnvil, startAnvil, stopAnvil } from './anvil.ts'
import {
  chainClients, DEV_KEYS, devDeployments, ensureDeployments, IDENTITY_REGISTRY_ADDRESS, mined, MULTICALL3_ADDRESS, usdcAbi,
} from './contracts.ts'
import { DevChainPortInUseError, DevChainUnreachableError, NotADevChainError } from './errors.ts'
import { logFile, readRecord, stateFile, withDevChainLock, writeRecord, type DevChainRecord } from './record.ts'

export type DevParty = { address: Address; privateKey: Hex }

export type DevChainInfo = {
  rpcUrl: string
  chainId: number
  network: 'local' | 'base-sepolia'
  caip2: `eip155:${number}`
  usdc: { address: Address; name: string; version: string; decimals: number }
  /** anvil account #1, funded with test USDC and ETH. Dev only: the key is public. */
  buyer: DevParty
  /** anvil account #2, the local facilitator's settlement key (ETH for gas). */
  settler: DevParty
  identityRegistry: Address
  multicall3: Address
}

export type EnsureDevChainOptions = {
  /** 31337 (default, network `local`) or 84532 (Base Sepolia-shaped). */
  chainId?: number
  /** RPC URL of another stack's dev chain to use instead of starting one. */
  join?: string
  /** anvil binary to run instead of the one from @foundry-rs/anvil (tests). */
  anvilBinary?: string
}

export const DEFAULT_DEV_CHAIN_ID = 31337
const NETWORK_BY_CHAIN_ID = { 31337: 'local', 84532: 'base-sepolia' } as const

const party = (privateKey: Hex): DevParty => ({ address: privateKeyToAccount(privateKey).address, privateKey })

function devChainInfo(rpcUrl: string, chainId: number): DevChainInfo | undefined {
  const network = NETWORK_BY_CHAIN_ID[chainId as keyof typeof NETWORK_BY_CHAIN_ID]
  const usdc = CHAINS.find((c) => c.name === network)?.usdc
  if (!network || !usdc) return undefined
  return {
    rpcUrl, chainId, network, caip2: `eip155:${chainId}`,
    usdc: { address: usdc.address, name: usdc.eip712Name, version: usdc.eip712Version, decimals: usdc.decimals },
    buyer: party(DEV_KEYS.buyer), settler: party(DEV_KEYS.settler),
    identityRegistry: IDENTITY_REGISTRY_ADDRESS, multicall3: MULTICALL3_ADDRESS,
  }
}

function infoOrThrow(rpcUrl: string, chainId: number, what: string): DevChainInfo {
  const info = devChainInfo(rpcUrl, chainId)
  if (!info) {
    throw new InvalidInputError(`${what} has chain id ${chainId}; a dev chain runs 31337 (local) or 84532 (Base Sepolia-shaped).`, {
      hint: 'Use --dev-chain-id 31337 or 84532.',
    })
  }
  return info
}

/** The dev chain recorded in VEND_HOME (no RPC), or undefined when there is none. */
export function readDevChain(paths: HomePaths): DevChainInfo | undefined {
  const r = readRecord(paths)
  return r ? devChainInfo(r.rpcUrl, r.chainId) : undefined
}

/** Start (or reuse, or join) the dev chain and make sure everything is deployed on it. */
export async function ensureDevChain(paths: HomePaths, opts: EnsureDevChainOptions = {}): Promise<DevChainInfo> {
  return withDevChainLock(paths, async () => {
    if (opts.join !== undefined) return joinDevChain(paths, opts.join)
    const rec = readRecord(paths)
    const managed = rec && !rec.joined ? rec : undefined
    const chainId = opts.chainId ?? managed?.chainId ?? DEFAULT_DEV_CHAIN_ID
    const info = infoOrThrow('', chainId, 'The requested dev chain')
    let rpcUrl = managed ? await running(managed, chainId) : undefined
    if (!rpcUrl) rpcUrl = await start(paths, chainId, managed, opts.anvilBinary)
    const out = { ...info, rpcUrl }
    await ensureDeployments(chainClients(rpcUrl, chainId), devDeployments(out.usdc.address))
    return out
  })
}

/**
 * The recorded chain's URL when our anvil still runs there with `chainId`; our chain running with another chain id
 * is stopped first. Whatever else answers on the recorded port is not ours: start() then moves to a free port.
 */
async function running(rec: DevChainRecord, chainId: number): Promise<string | undefined> {
  const { pid } = rec
  if (pid === undefined || !isAlive(pid) || !looksLikeAnvil(pid)) return undefined
  if (await chainIdAt(rec.rpcUrl, 5000) === chainId) return rec.rpcUrl // generous: a busy chain is not a dead one
  await stopAnvil(pid)
  return undefined
}

async function start(paths: HomePaths, chainId: number, rec: DevChainRecord | undefined, binaryOpt: string | undefined): Promise<string> {
  const binary = anvilBinary(binaryOpt)
  const launch = async (port: number) => {
    const pid = await startAnvil({ binary, port, chainId, stateFile: stateFile(paths, chainId), logFile: logFile(paths) })
    const rpcUrl = `http://127.0.0.1:${port}`
    writeRecord(paths, { chainId, rpcUrl, port, pid })
    return rpcUrl
  }
  if (rec?.port === undefined) return launch(await freePort())
  try {
    return await launch(rec.port)
  } catch (err) {
    if (!(err instanceof DevChainPortInUseError)) throw err
    return launch(await freePort()) // something else took our port: the URL changes, the state does not
  }
}

async function joinDevChain(paths: HomePaths, rpcUrl: string): Promise<DevChainInfo> {
  if (!/^https?:\/\/[^\s]+$/.test(rpcUrl)) {
    throw new InvalidInputError(`Invalid dev chain URL "${redactUrl(rpcUrl)}".`, { hint: 'Give the other stack\'s RPC URL, e.g. http://127.0.0.1:8545 (see `vend dev info` there).' })
  }
  const chainId = await chainIdAt(rpcUrl, 5000)
  if (chainId === undefined) {
    throw new DevChainUnreachableError({ url: redactUrl(rpcUrl), joining: true })
  }
  const info = infoOrThrow(rpcUrl, chainId, `The chain at ${redactUrl(rpcUrl)}`)
  const code = await chainClients(rpcUrl, chainId).pub.getCode({ address: info.usdc.address })
  if (!code || code === '0x') {
    throw new NotADevChainError({ url: redactUrl(rpcUrl), usdc: info.usdc.address })
  }
  await stopManaged(paths) // else the record of our own chain would be lost while it keeps running
  writeRecord(paths, { chainId, rpcUrl, joined: true })
  return info
}

/** Stop the dev chain gracefully (anvil dumps its state) and keep the record, so the next ensure resumes it. */
export async function stopDevChain(paths: HomePaths): Promise<void> {
  await withDevChainLock(paths, () => stopManaged(paths))
}

async function stopManaged(paths: HomePaths): Promise<void> {
  const rec = readRecord(paths)
  if (!rec || rec.joined || rec.pid === undefined) return
  if (isAlive(rec.pid) && looksLikeAnvil(rec.pid)) await stopAnvil(rec.pid)
  const { pid: _stopped, ...kept } = rec
  writeRecord(paths, kept)
}

function checkAddress(address: string): Address {
  if (!isAddress(address)) throw new InvalidInputError(`Invalid address "${address}": expected 0x followed by 40 hex digits.`)
  return address
}

async function onChain<T>(info: DevChainInfo, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof BaseError) throw err
    if (await chainIdAt(info.rpcUrl) === undefined) {
      throw new DevChainUnreachableError({ url: redactUrl(info.rpcUrl), joining: false, cause: err })
    }
    throw err
  }
}

/** Mint test USDC (a decimal amount like "12.5") to `address` with the USDC master minter. */
export async function fundUsdc(info: DevChainInfo, address: string, amountDecimal: string): Promise<{ txHash: Hex }> {
  const to = checkAddress(address)
  const amount = toAtomic(amountDecimal, info.usdc.decimals, 'amount')
  if (amount === 0n) throw new InvalidInputError('Invalid amount "0": mint at least 0.000001 USDC.')
  return onChain(info, async () => {
    const c = chainClients(info.rpcUrl, info.chainId)
    const owner = c.wallet(DEV_KEYS.owner)
    const hash = await owner.writeContract({ address: info.usdc.address, abi: usdcAbi, functionName: 'mint', args: [to, amount] })
    return { txHash: await mined(c, hash) }
  })
}

/** Add `wei` to the ETH balance of `address` (anvil_setBalance). */
export async function fundEth(info: DevChainInfo, address: string, wei: bigint): Promise<void> {
  const to = checkAddress(address)
  await onChain(info, async () => {
    const c = chainClients(info.rpcUrl, info.chainId)
    await c.test.setBalance({ address: to, value: await c.pub.getBalance({ address: to }) + wei })
  })
}

export async function usdcBalance(info: DevChainInfo, address: string): Promise<bigint> {
  const who = checkAddress(address)
  return onChain(info, () => chainClients(info.rpcUrl, info.chainId).pub.readContract({
    address: info.usdc.address, abi: usdcAbi, functionName: 'balanceOf', args: [who],
  }))
}
