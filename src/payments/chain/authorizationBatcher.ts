/**
 * Several EIP-3009 authorisations in one transaction: while a settlement transaction is being broadcast, the next
 * ones queue up and go out together through Multicall3 aggregate3 (allowFailure per call, so one bad authorisation
 * does not sink the others; transferWithAuthorization has no caller restriction). A lone authorisation is sent
 * as a plain transferWithAuthorization. Callers check their own AuthorizationUsed event in the receipt.
 */
import { encodeFunctionData, keccak256, pad, parseAbi, toBytes, type Hex, type Log } from 'viem'
import type { SettlementSigner } from './settlementSigner.ts'

export const MULTICALL3: Hex = '0xcA11bde05977b3631167028862bE2a173976CA11'
const AGGREGATE3_ABI = parseAbi(['function aggregate3((address target, bool allowFailure, bytes callData)[] calls) payable returns ((bool success, bytes returnData)[] returnData)'])
const AUTHORIZATION_USED = keccak256(toBytes('AuthorizationUsed(address,bytes32)'))
const TRANSFER = keccak256(toBytes('Transfer(address,address,uint256)'))
const topic = (addr: string) => pad(addr.toLowerCase() as Hex).toLowerCase()

/** The receipt shows the token's Transfer(from, to, value). */
export function transferred(logs: readonly Log[], asset: string, from: string, to: string, value: bigint): boolean {
  return logs.some((l) => l.address.toLowerCase() === asset.toLowerCase() && l.topics[0] === TRANSFER
    && l.topics[1]?.toLowerCase() === topic(from) && l.topics[2]?.toLowerCase() === topic(to) && BigInt(l.data) === value)
}

/** The receipt shows this authorisation used and its Transfer(from, to, value) made. */
export function authorizationSettled(logs: readonly Log[], asset: string, a: { from: string; to: string; value: string; nonce: string }): boolean {
  return logs.some((l) => l.address.toLowerCase() === asset.toLowerCase() && l.topics[0] === AUTHORIZATION_USED
    && l.topics[1]?.toLowerCase() === topic(a.from) && l.topics[2]?.toLowerCase() === a.nonce.toLowerCase())
    && transferred(logs, asset, a.from, a.to, BigInt(a.value))
}

type Item = { asset: Hex; callData: Hex; onHash: ((h: Hex) => void | Promise<void>) | undefined; resolve: (h: Hex) => void; reject: (e: unknown) => void }

export type AuthorizationBatcher = {
  /** Broadcast one transferWithAuthorization call (alone or batched); resolves with the transaction hash once sent. */
  submit(asset: Hex, callData: Hex, onHash?: (h: Hex) => void | Promise<void>): Promise<Hex>
}

export function createAuthorizationBatcher(signer: SettlementSigner, opts: { maxBatch?: number; lingerMs?: number } = {}): AuthorizationBatcher {
  const maxBatch = opts.maxBatch ?? 64
  const lingerMs = opts.lingerMs ?? 3
  const queue: Item[] = []
  let pumping = false
  let lastSend = -Infinity
  let multicall: boolean | undefined

  async function hasMulticall(): Promise<boolean> {
    if (multicall === undefined) {
      const code = await signer.getCode({ address: MULTICALL3 })
      multicall = code !== undefined && code !== '0x'
    }
    return multicall
  }

  async function send(batch: Item[]): Promise<void> {
    // every payment's hash is persisted before the broadcast (together: one ledger commit for the batch)
    const onHash = async (h: Hex) => { await Promise.all(batch.map((it) => it.onHash?.(h))) }
    const asset = batch[0]!.asset
    let hash: Hex
    if (batch.length === 1) {
      hash = await signer.broadcast(asset, batch[0]!.callData, undefined, onHash)
    } else {
      const single = await signer.gasFor(asset, batch[0]!.callData)
      const data = encodeFunctionData({ abi: AGGREGATE3_ABI, functionName: 'aggregate3', args: [batch.map((it) => ({ target: it.asset, allowFailure: true, callData: it.callData }))] })
      hash = await signer.broadcast(MULTICALL3, data, single * BigInt(batch.length) + 50_000n, onHash)
    }
    for (const it of batch) it.resolve(hash)
  }

  async function pump(): Promise<void> {
    if (pumping) return
    pumping = true
    try {
      while (queue.length) {
        // Under load (a batch went out in the last 50 ms) more settlements are on their way: gather them for a few
        // milliseconds, so one transaction carries more of them (fewer blocks, less gas and chain work per payment).
        // A lone payment at a quiet time goes out at once.
        if (queue.length < maxBatch && performance.now() - lastSend < 50) await new Promise((r) => setTimeout(r, lingerMs))
        lastSend = performance.now()
        const asset = queue[0]!.asset
        const batch: Item[] = []
        const canBatch = await hasMulticall().catch(() => false)
        for (let i = 0; i < queue.length && batch.length < (canBatch ? maxBatch : 1);) {
          if (queue[i]!.asset === asset) batch.push(...queue.splice(i, 1))
          else i++
        }
        try {
          await send(batch)
        } catch (err) {
          for (const it of batch) it.reject(err)
        }
      }
    } finally {
      pumping = false
    }
  }

  return {
    submit(asset, callData, onHash) {
      return new Promise<Hex>((resolve, reject) => {
        queue.push({ asset, callData, onHash, resolve, reject })
        void pump()
      })
    },
  }
}
