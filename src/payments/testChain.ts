/**
 * Test helper: a throwaway anvil holding what a dev chain holds (Circle's FiatTokenV2_2 as USDC at the chain's
 * USDC address, Multicall3, the identity registry; deployed by devchain/contracts.ts), the buyer funded. Shaped
 * like DevChainInfo. Uses anvil's well-known dev keys only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { chainClients, DEV_KEYS, devDeployments, ensureDeployments, mined, usdcAbi } from '../devchain/contracts.ts'
import { CHAINS } from '../offer/networks.ts'

const require = createRequire(import.meta.url)
const PAY_TO_KEY: Hex = '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6'
const OTHER_KEY: Hex = '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a'

export type Party = { address: Hex; privateKey: Hex }
export type TestChain = {
  rpcUrl: string
  chainId: number
  caip2: string
  usdc: { address: Hex; name: string; version: string; decimals: number }
  buyer: Party
  settler: Party
  payTo: Party
  /** Holds no USDC. */
  other: Party
  balanceOf(address: string): Promise<bigint>
  mint(to: string, amount: bigint): Promise<void>
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>
  stop(): Promise<void>
}

const party = (k: Hex): Party => ({ address: privateKeyToAccount(k).address, privateKey: k })

/** chainId 31337 (network `local`) or 84532 (Base Sepolia-shaped: USDC at the real Base Sepolia address). */
export async function startTestChain(opts: { chainId?: number; buyerFunds?: bigint } = {}): Promise<TestChain> {
  const chainId = opts.chainId ?? 31337
  const usdcInfo = CHAINS.find((c) => c.chainId === chainId)?.usdc
  if (!usdcInfo) throw new Error(`no USDC known for chain ${chainId}`)
  const bin = require.resolve('@foundry-rs/anvil-linux-amd64/bin/anvil')
  const child: ChildProcess = spawn(bin, ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(chainId), '--prune-history', '256'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const rpcUrl = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const to = setTimeout(() => reject(new Error(`anvil did not start: ${buf}`)), 15_000)
    child.stdout!.on('data', (d) => {
      buf += d
      const m = /Listening on ([\d.]+:\d+)/.exec(buf)
      if (m) { clearTimeout(to); resolve(`http://${m[1]}`) }
    })
    child.once('exit', (code) => { clearTimeout(to); reject(new Error(`anvil exited ${code}: ${buf}`)) })
  })
  child.stdout!.resume()
  const stop = () => new Promise<void>((r) => { if (child.exitCode !== null) { r(); return } child.once('exit', () => r()); child.kill('SIGTERM') })
  try {
    const c = chainClients(rpcUrl, chainId)
    const usdc = usdcInfo.address
    await ensureDeployments(c, devDeployments(usdc))
    const owner = c.wallet(DEV_KEYS.owner)
    const buyer = party(DEV_KEYS.buyer)
    const mint = async (to: string, amount: bigint) => {
      await mined(c, await owner.writeContract({ address: usdc, abi: usdcAbi, functionName: 'mint', args: [to as Hex, amount] }))
    }
    if (opts.buyerFunds) await mint(buyer.address, opts.buyerFunds)
    return {
      rpcUrl, chainId, caip2: `eip155:${chainId}`,
      usdc: { address: usdc, name: usdcInfo.eip712Name, version: usdcInfo.eip712Version, decimals: usdcInfo.decimals },
      buyer, settler: party(DEV_KEYS.settler), payTo: party(PAY_TO_KEY), other: party(OTHER_KEY),
      balanceOf: async (a) => await c.pub.readContract({ address: usdc, abi: usdcAbi, functionName: 'balanceOf', args: [a as Hex] }),
      mint,
      rpc: async <T>(method: string, params: unknown[] = []) => await c.pub.request({ method: method as 'eth_chainId', params: params as never }) as T,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
