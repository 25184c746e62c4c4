/**
 * The local facilitator's chain access, shaped as @x402/evm's FacilitatorEvmSigner capability object, built for
 * throughput: cached getCode, local signature recovery, a per-key broadcast pipeline with its own nonce counter
 * (nonces assigned and transactions signed locally, resynced from the chain on startup and after any failed send),
 * transactions queued while a send is in flight going out together as one JSON-RPC batch,
 * a fixed gas limit per call kind (estimated once) and one batched receipt poller. Only the broadcast itself is
 * serialised; many settlements wait for their receipts at once.
 */
import type { FacilitatorEvmSigner } from '@x402/evm'
import {
  decodeFunctionResult, encodeFunctionData, hashTypedData, hexToBytes, recoverTypedDataAddress, type Abi, type Hex, type Log,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { signLegacyTransaction } from './nativeCrypto.ts'
import { signedBy } from './signatures.ts'
import { RpcError, type RpcClient } from './rpc.ts'

export type SettlementSignerOptions = {
  rpc: RpcClient
  privateKey: Hex
  chainId: number
  /** Receipt polling interval (default 20 ms on chain 31337, 1 s elsewhere; the dev chain's facilitator passes 20 ms). */
  receiptPollMs?: number
}

export type SettlementSigner = FacilitatorEvmSigner & {
  address: Hex
  /** Sign and send; `onHash` gets the hash after signing and before sending (persist it for crash recovery). */
  broadcast(to: Hex, data: Hex, gas?: bigint, onHash?: (h: Hex) => void | Promise<void>): Promise<Hex>
  /** Gas limit for a call of this kind (estimated once per contract and function, with headroom). */
  gasFor(to: Hex, data: Hex): Promise<bigint>
  getReceipt(hash: Hex): Promise<RpcReceipt | undefined>
  /** Whether a transaction is known to the node (mined or pending). */
  isKnown(hash: Hex): Promise<boolean>
  close(): void
}

export type RpcReceipt = { status: 'success' | 'reverted'; transactionHash: Hex; blockNumber: bigint; logs: Log[] }

type RawReceipt = { status: Hex; transactionHash: Hex; blockNumber: Hex; logs: Log[] }

const toReceipt = (r: RawReceipt): RpcReceipt => ({
  status: r.status === '0x1' ? 'success' : 'reverted', transactionHash: r.transactionHash, blockNumber: BigInt(r.blockNumber), logs: r.logs,
})

/** Node error messages that mean our local nonce counter is behind the chain. */
const NONCE_BEHIND = /nonce too low|nonce is too low|replacement transaction underpriced|already imported|invalid nonce|nonce.*lower than/i

export function createSettlementSigner(opts: SettlementSignerOptions): SettlementSigner {
  const { rpc, chainId } = opts
  const account = privateKeyToAccount(opts.privateKey)
  const keyBytes = hexToBytes(opts.privateKey)
  const address = account.address
  const pollMs = opts.receiptPollMs ?? (chainId === 31337 ? 20 : 1000)

  // --- getCode cache
  const codeCache = new Map<string, { code: Hex; at: number }>()
  async function getCode({ address: a }: { address: Hex }): Promise<Hex | undefined> {
    const key = a.toLowerCase()
    const hit = codeCache.get(key)
    if (hit && Date.now() - hit.at < 60_000) return hit.code
    const code = await rpc.call<Hex>('eth_getCode', [a, 'latest'])
    codeCache.set(key, { code, at: Date.now() })
    return code
  }

  // --- broadcast pipeline: sends queue up while a broadcast is in flight and go out together as one JSON-RPC batch,
  // nonces assigned in order; any failure resyncs the nonce from the chain
  let nextNonce: number | undefined
  let gasPrice: { value: bigint; at: number } | undefined
  async function currentGasPrice(): Promise<bigint> {
    if (!gasPrice || Date.now() - gasPrice.at > 5_000) {
      const v = BigInt(await rpc.call<Hex>('eth_gasPrice'))
      gasPrice = { value: v + v / 4n + 1n, at: Date.now() }
    }
    return gasPrice.value
  }
  const gasLimits = new Map<string, bigint>()
  async function gasFor(to: Hex, data: Hex): Promise<bigint> {
    const key = `${to.toLowerCase()}:${data.slice(0, 10)}`
    const known = gasLimits.get(key)
    if (known) return known
    const est = BigInt(await rpc.call<Hex>('eth_estimateGas', [{ from: address, to, data }]))
    const limit = est + est / 4n + 20_000n
    gasLimits.set(key, limit)
    return limit
  }

  type Send = { to: Hex; data: Hex; gas: bigint; onHash: ((h: Hex) => void | Promise<void>) | undefined; resolve: (h: Hex) => void; reject: (e: unknown) => void; attempts: number }
  const waiting: Send[] = []
  let pumping = false

  async function sendBatch(batch: Send[]): Promise<void> {
    if (nextNonce === undefined) nextNonce = Number(BigInt(await rpc.call<Hex>('eth_getTransactionCount', [address, 'pending'])))
    const price = await currentGasPrice()
    const signed: { s: Send; raw: Hex; hash: Hex }[] = []
    for (const s of batch) {
      const { raw, hash } = signLegacyTransaction({ chainId, nonce: nextNonce, to: s.to, data: s.data, gas: s.gas, gasPrice: price }, keyBytes)
      try {
        await s.onHash?.(hash)
      } catch (err) {
        s.reject(err) // not sent: its nonce is reused by the next one
        continue
      }
      nextNonce++
      signed.push({ s, raw, hash })
    }
    if (!signed.length) return
    let results: unknown[]
    try {
      results = signed.length === 1
        ? [await rpc.call('eth_sendRawTransaction', [signed[0]!.raw]).catch((e: unknown) => e)]
        : await rpc.batch(signed.map((x) => ({ method: 'eth_sendRawTransaction', params: [x.raw] })))
    } catch (err) {
      // unknown whether the node took them: callers hold the hashes and look them up on retry
      nextNonce = undefined
      for (const x of signed) x.s.reject(err)
      return
    }
    const retry: Send[] = []
    results.forEach((r, i) => {
      const x = signed[i]!
      if (!(r instanceof Error) || /already known/i.test(r.message)) { x.s.resolve(x.hash); return }
      nextNonce = undefined
      if (r instanceof RpcError && NONCE_BEHIND.test(r.message) && x.s.attempts < 3) { x.s.attempts++; retry.push(x.s); return }
      if (/gas price|underpriced|fee cap/i.test(r.message)) gasPrice = undefined
      x.s.reject(r)
    })
    waiting.unshift(...retry)
  }

  async function pump(): Promise<void> {
    if (pumping) return
    pumping = true
    try {
      while (waiting.length) {
        const batch = waiting.splice(0, 64)
        try {
          await sendBatch(batch)
        } catch (err) {
          nextNonce = undefined
          for (const s of batch) s.reject(err)
        }
      }
    } finally {
      pumping = false
    }
  }

  /** Sign and broadcast a transaction from the settlement key; `onHash` runs with its hash before it is sent. */
  async function broadcast(to: Hex, data: Hex, gas?: bigint, onHash?: (h: Hex) => void | Promise<void>): Promise<Hex> {
    const gasLimit = gas ?? await gasFor(to, data)
    return new Promise<Hex>((resolve, reject) => {
      waiting.push({ to, data, gas: gasLimit, onHash, resolve, reject, attempts: 0 })
      void pump()
    })
  }

  // --- batched receipt poller
  type Waiter = { resolve: (r: RpcReceipt) => void; reject: (e: Error) => void; until: number }
  const waiters = new Map<Hex, Waiter[]>()
  let timer: NodeJS.Timeout | undefined
  // On a local chain (fast polling) the block is mined right after the send returns: look after 2 ms, then back off
  // (4, 8, 16 ms) up to pollMs, so a receipt a few milliseconds late does not wait a whole interval.
  let timerDue = 0
  let backoff = pollMs
  const schedule = (soon = false) => {
    if (!waiters.size) return
    if (soon && pollMs <= 50) backoff = 2
    const delay = backoff
    backoff = Math.min(pollMs, backoff * 2)
    if (timer && timerDue <= Date.now() + delay) return
    if (timer) clearTimeout(timer)
    timerDue = Date.now() + delay
    timer = setTimeout(poll, delay)
  }
  async function poll(): Promise<void> {
    timer = undefined
    const hashes = [...waiters.keys()]
    let results: unknown[] = []
    try {
      results = await rpc.batch(hashes.map((h) => ({ method: 'eth_getTransactionReceipt', params: [h] })))
    } catch { /* transient: try again next tick */ }
    const now = Date.now()
    hashes.forEach((h, i) => {
      const r = results[i]
      const ws = waiters.get(h)
      if (!ws) return
      if (r && !(r instanceof Error)) {
        waiters.delete(h)
        const rec = toReceipt(r as RawReceipt)
        for (const w of ws) w.resolve(rec)
        return
      }
      const live = ws.filter((w) => {
        if (w.until > now) return true
        w.reject(new Error(`timed out waiting for the receipt of ${h}`))
        return false
      })
      if (live.length) waiters.set(h, live); else waiters.delete(h)
    })
    schedule()
  }

  async function readContract(a: { address: Hex; abi: readonly unknown[]; functionName: string; args?: readonly unknown[] }): Promise<unknown> {
    const abi = a.abi as Abi
    const data = encodeFunctionData({ abi, functionName: a.functionName, args: a.args ?? [] } as Parameters<typeof encodeFunctionData>[0])
    let out: Hex
    try {
      out = await rpc.call<Hex>('eth_call', [{ from: address, to: a.address, data }, 'latest'])
    } catch (err) {
      if (err instanceof RpcError) throw new Error(`execution reverted: ${err.message}`, { cause: err })
      throw err
    }
    return decodeFunctionResult({ abi, functionName: a.functionName, data: out } as Parameters<typeof decodeFunctionResult>[0])
  }

  return {
    address,
    getAddresses: () => [address],
    readContract,
    async verifyTypedData(a) {
      try {
        const typed = a as Parameters<typeof recoverTypedDataAddress>[0]
        // EOA signatures (65 bytes) recovered natively; anything else (smart-wallet formats) through viem
        if (typeof a.signature === 'string' && a.signature.length === 132) return signedBy(hashTypedData(typed), a.signature, a.address, true)
        const recovered = await recoverTypedDataAddress(typed)
        return recovered.toLowerCase() === a.address.toLowerCase()
      } catch { return false }
    },
    async writeContract(a) {
      let data = encodeFunctionData({ abi: a.abi as Abi, functionName: a.functionName, args: a.args } as Parameters<typeof encodeFunctionData>[0])
      if (a.dataSuffix) data = `${data}${a.dataSuffix.replace(/^0x/, '')}` as Hex
      return broadcast(a.address, data, a.gas)
    },
    sendTransaction: (a) => broadcast(a.to, a.data),
    broadcast,
    gasFor,
    waitForTransactionReceipt({ hash, timeout }) {
      return new Promise<RpcReceipt>((resolve, reject) => {
        const list = waiters.get(hash) ?? []
        list.push({ resolve, reject, until: Date.now() + (timeout ?? 120_000) })
        waiters.set(hash, list)
        schedule(list.length === 1)
      })
    },
    getCode,
    async getReceipt(hash) {
      const r = await rpc.call<RawReceipt | null>('eth_getTransactionReceipt', [hash])
      return r ? toReceipt(r) : undefined
    },
    async isKnown(hash) {
      return (await rpc.call<unknown>('eth_getTransactionByHash', [hash])) !== null
    },
    close() {
      if (timer) clearTimeout(timer)
      timer = undefined
      for (const ws of waiters.values()) for (const w of ws) w.reject(new Error('settlement signer closed'))
      waiters.clear()
    },
  }
}
