/**
 * The in-process facilitator: @x402/core's x402Facilitator with @x402/evm's exact scheme (v2, plus v1 where the
 * chain has a v1 network name), settling with a key we hold. The seller pays gas. Chain access goes through the
 * fast settlement signer (see chain/settlementSigner.ts); plain EIP-3009 payments settle through its pipeline directly.
 */
import { x402Facilitator } from '@x402/core/facilitator'
import type { Network, PaymentPayload, PaymentRequirements, SettleResponse, SupportedResponse, VerifyResponse } from '@x402/core/types'
import { ExactEvmScheme } from '@x402/evm/exact/facilitator'
import { ExactEvmSchemeV1 } from '@x402/evm/exact/v1/facilitator'
import { UptoEvmScheme } from '@x402/evm/upto/facilitator'
import { v1NetworkName } from '../../gateway/challenge.ts'
import { PERMIT2_ADDRESS, x402UptoPermit2ProxyABI, x402UptoPermit2ProxyAddress } from '@x402/evm'
import { encodeFunctionData, getAddress, type Hex, type Log } from 'viem'
import type { FacilitatorObservation } from '../../reconciler/types.ts'
import { authorizationSettled, createAuthorizationBatcher, transferred } from '../chain/authorizationBatcher.ts'
import { createRpcClient, RpcError, RpcUnavailableError } from '../chain/rpc.ts'
import { createSettlementSigner } from '../chain/settlementSigner.ts'
import { authorizationDigestBytes, signedBy, transferWithAuthorizationData, uptoPermitDigest, type Authorization } from '../chain/signatures.ts'
import { refineReason } from '../reasons.ts'
import { parsePermit2Authorization, type Permit2Authorization } from '../upto.ts'
import { FacilitatorUnavailableError, type Facilitator, type SettleHooks, type Verdict, type VerifyOptions } from './types.ts'

export type LocalFacilitatorOptions = {
  rpcUrl: string
  chainId: number
  /** The settlement key (pays gas). Never logged. */
  privateKey: Hex
  receiptPollMs?: number
}

const AUTH_STATE_ABI = [{
  type: 'function', name: 'authorizationState', stateMutability: 'view',
  inputs: [{ name: 'authorizer', type: 'address' }, { name: 'nonce', type: 'bytes32' }], outputs: [{ name: '', type: 'bool' }],
}] as const

const PERMIT2_NONCE_ABI = [{
  type: 'function', name: 'nonceBitmap', stateMutability: 'view',
  inputs: [{ name: 'owner', type: 'address' }, { name: 'wordPos', type: 'uint256' }], outputs: [{ name: '', type: 'uint256' }],
}] as const

/** The RPC could not be reached (possibly wrapped by the SDK), as opposed to a chain answer. */
function isTransportFailure(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof RpcUnavailableError || /JSON-RPC endpoint .* unreachable/.test(e.message)) return true
  return false
}

export type LocalFacilitator = Facilitator & {
  settlerAddress: string
  /** What it would answer on GET /supported if served over HTTP (the SDK facilitator's kinds and signers). */
  supported(): SupportedResponse
}

/** The upto proxy's settle calldata: settle `amount` of a signed Permit2 authorisation. */
function uptoSettleData(a: Permit2Authorization, amount: bigint, signature: Hex): Hex {
  return encodeFunctionData({
    abi: x402UptoPermit2ProxyABI, functionName: 'settle',
    args: [{ permitted: { token: getAddress(a.permitted.token), amount: BigInt(a.permitted.amount) }, nonce: BigInt(a.nonce), deadline: BigInt(a.deadline) },
      amount, getAddress(a.from), { to: getAddress(a.witness.to), facilitator: getAddress(a.witness.facilitator), validAfter: BigInt(a.witness.validAfter) }, signature],
  })
}

/** How long a repeat payer's known balance stands in for the simulation. */
const KNOWN_BALANCE_TTL_MS = 10_000

const toAuthorization = (a: Record<keyof Authorization, string>): Authorization => ({
  from: a.from as Hex, to: a.to as Hex, value: BigInt(a.value), validAfter: BigInt(a.validAfter), validBefore: BigInt(a.validBefore), nonce: a.nonce as Hex,
})

export function createLocalFacilitator(opts: LocalFacilitatorOptions): LocalFacilitator {
  const caip2 = `eip155:${opts.chainId}` as Network
  const rpc = createRpcClient(opts.rpcUrl)
  const signer = createSettlementSigner({ rpc, chainId: opts.chainId, privateKey: opts.privateKey, ...(opts.receiptPollMs ? { receiptPollMs: opts.receiptPollMs } : {}) })
  const batcher = createAuthorizationBatcher(signer)
  const core = new x402Facilitator().register(caip2, new ExactEvmScheme(signer)).register(caip2, new UptoEvmScheme(signer))
  // the v1 network name (84532 -> base-sepolia); chains without one (the 31337 dev chain) take v2 payments only
  const v1Name = v1NetworkName(opts.chainId, caip2)
  const v1 = v1Name === caip2 ? undefined : v1Name
  if (v1) core.registerV1(v1 as Network, new ExactEvmSchemeV1(signer))
  let reachable: boolean | undefined
  let detail: string | undefined

  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      const out = await fn()
      reachable = true
      return out
    } catch (err) {
      if (isTransportFailure(err)) { reachable = false; detail = (err as Error).message; throw new FacilitatorUnavailableError('local', err) }
      throw err
    }
  }

  type Outcome = { fail(errorReason: string, transaction?: string, errorMessage?: string): SettleResponse; ok(transaction: Hex): SettleResponse }

  /**
   * Send a settlement (its hash persisted first, by the caller's hook), wait for the receipt and check it did what
   * it should; otherwise ask the chain why. When the call would pass now (e.g. it failed inside a batch), the
   * failure is transient and the queue tries again.
   */
  async function sendAndConfirm(send: () => Promise<Hex>, to: Hex, data: Hex, done: (logs: readonly Log[]) => boolean, failedReason: string, out: Outcome): Promise<SettleResponse> {
    let hash: Hex
    try {
      hash = await send()
    } catch (err) {
      if (isTransportFailure(err)) throw err
      const msg = (err as Error).message
      return out.fail(refineReason(failedReason, msg), '', msg)
    }
    let receipt
    try {
      receipt = await signer.waitForTransactionReceipt({ hash, timeout: 60_000 })
    } catch (err) {
      return out.fail('settlement_pending', hash, (err as Error).message)
    }
    if (receipt.status === 'success' && done(receipt.logs ?? [])) return out.ok(hash)
    const why = await simulate(to, data).then(() => undefined, (err: Error) => err.message)
    if (why === undefined) return out.fail('unexpected_settle_error', hash, 'the settlement transaction did not make the transfer')
    return out.fail(refineReason(failedReason, why), hash, why)
  }

  /**
   * Settle an EIP-3009 payment the gate has just verified and locked in the ledger: its transferWithAuthorization
   * goes out alone or batched with others (Multicall3), then the receipt must show its AuthorizationUsed and
   * Transfer events. The SDK's settle would re-verify the signature first; the token contract checks it anyway.
   */
  async function settleEip3009(payload: PaymentPayload, requirements: PaymentRequirements, hooks?: SettleHooks): Promise<SettleResponse> {
    const { authorization: a, signature } = payload.payload as { authorization: { from: Hex; to: Hex; value: string; validAfter: string; validBefore: string; nonce: Hex }; signature: Hex }
    const network = requirements.network
    const out: Outcome = {
      fail(errorReason, transaction = '', errorMessage) {
        known.delete(payerKey(requirements.asset, a.from))
        return { success: false, errorReason, transaction, network, payer: a.from, ...(errorMessage ? { errorMessage } : {}) }
      },
      ok: (transaction) => ({ success: true, transaction, network, payer: a.from }),
    }
    if (BigInt(a.validBefore) <= BigInt(Math.floor(Date.now() / 1000) + 3)) return out.fail('invalid_exact_evm_payload_authorization_valid_before')
    const data = transferWithAuthorizationData(toAuthorization(a), signature)
    const asset = getAddress(requirements.asset)
    return sendAndConfirm(() => batcher.submit(asset, data, hooks?.onTxHash), asset, data,
      (logs) => authorizationSettled(logs, asset, a), 'invalid_exact_evm_transaction_failed', out)
  }

  /**
   * Settle a plain upto (Permit2) payment verified at request time for the amount used: the upto proxy's settle,
   * sent from the settlement key (the proxy takes it only from the witness facilitator, so never batched), its hash
   * persisted before the broadcast, then the receipt must show the Transfer. The SDK's settle would simulate again
   * first; the proxy and Permit2 check everything on chain anyway.
   */
  async function settleUpto(payload: PaymentPayload, requirements: PaymentRequirements, hooks?: SettleHooks): Promise<SettleResponse> {
    const a = parsePermit2Authorization(payload.payload)!
    const signature = (payload.payload as { signature: Hex }).signature
    const network = requirements.network
    const amount = BigInt(requirements.amount)
    const out: Outcome = {
      fail: (errorReason, transaction = '', errorMessage) => ({ success: false, errorReason, transaction, network, payer: a.from, ...(errorMessage ? { errorMessage } : {}) }),
      ok: (transaction) => ({ success: true, transaction, network, payer: a.from, amount: amount.toString() }),
    }
    if (amount > BigInt(a.permitted.amount)) return out.fail('invalid_upto_evm_payload_settlement_exceeds_amount')
    if (BigInt(a.deadline) <= BigInt(Math.floor(Date.now() / 1000) + 3)) return out.fail('permit2_deadline_expired')
    const data = uptoSettleData(a, amount, signature)
    const proxy = x402UptoPermit2ProxyAddress as Hex
    return sendAndConfirm(() => signer.broadcast(proxy, data, undefined, hooks?.onTxHash), proxy, data,
      (logs) => transferred(logs, a.permitted.token, a.from, a.witness.to, amount), 'invalid_upto_evm_transaction_failed', out)
  }

  /** eth_call of a transaction from the settlement key: resolves when it would succeed, throws why it would revert. */
  async function simulate(to: Hex, data: Hex): Promise<void> {
    try {
      await rpc.call('eth_call', [{ from: signer.address, to, data }, 'latest'])
    } catch (err) {
      if (err instanceof RpcError) throw new Error(`execution reverted: ${err.message}`, { cause: err })
      throw err
    }
  }

  const isPlainUpto = (payload: PaymentPayload, requirements: PaymentRequirements) => requirements.scheme === 'upto'
    && parsePermit2Authorization(payload.payload) !== undefined && (payload.payload as { signature?: string }).signature?.length === 132
    && !(payload.extensions && Object.keys(payload.extensions).length)

  const isPlainEip3009 = (payload: PaymentPayload) => {
    const p = payload.payload as { authorization?: unknown; signature?: unknown }
    return typeof p.signature === 'string' && p.signature.length === 132 && typeof p.authorization === 'object' && p.authorization !== null
  }

  // What repeat payers are known to hold: after a payer's simulation passed, its balance (read in the same batch)
  // less what it has authorised since covers its next payments for a few seconds without another simulation, when
  // the caller allows deferring the check (see Verdict.chainCheck). A failed settlement forgets the payer.
  const known = new Map<string, { balance: bigint; until: number }>()
  const payerKey = (asset: string, payer: string) => `${asset.toLowerCase()}|${payer.toLowerCase()}`

  async function balanceOf(asset: Hex, owner: Hex): Promise<bigint> {
    return BigInt(await rpc.call<Hex>('eth_call', [{ to: asset, data: `0x70a08231${owner.slice(2).toLowerCase().padStart(64, '0')}` }, 'latest']))
  }

  /**
   * The happy path of the SDK's EIP-3009 verify for an EOA payer, cheaper: the signature checked against the
   * payer's address before any RPC (libsecp256k1), cached getCode, then the on-chain simulation (or, with
   * deferChainCheck, the payer's known balance). Anything it cannot vouch for returns undefined and goes to the
   * SDK's verify, which gives the precise reason.
   */
  async function fastVerify(payload: PaymentPayload, requirements: PaymentRequirements, options?: VerifyOptions): Promise<Verdict | undefined> {
    if (!isPlainEip3009(payload)) return undefined
    const { authorization: a, signature } = payload.payload as { authorization: Record<string, string>; signature: Hex }
    const extra = requirements.extra as { name?: unknown; version?: unknown } | undefined
    const claimed = (payload.x402Version === 1 ? payload : payload.accepted) as { scheme?: string; network?: string } | undefined
    const amount = (requirements as { amount?: string; maxAmountRequired?: string }).amount ?? (requirements as { maxAmountRequired?: string }).maxAmountRequired
    if (claimed?.scheme !== 'exact') return undefined
    if (requirements.scheme !== 'exact' || typeof extra?.name !== 'string' || typeof extra.version !== 'string') return undefined
    if (claimed.network !== requirements.network || (requirements.network !== caip2 && requirements.network !== v1)) return undefined
    try {
      if (getAddress(a.to!) !== getAddress(requirements.payTo) || amount === undefined || BigInt(a.value!) !== BigInt(amount)) return undefined
      const now = BigInt(Math.floor(Date.now() / 1000))
      if (BigInt(a.validBefore!) < now + 6n || BigInt(a.validAfter!) > now) return undefined
      const message = toAuthorization(a as Record<keyof Authorization, string>)
      const digest = authorizationDigestBytes({ name: extra.name, version: extra.version, chainId: opts.chainId, verifyingContract: requirements.asset as Hex }, message)
      if (!signedBy(digest, signature, a.from!)) return undefined
      const [assetCode, payerCode] = await Promise.all([signer.getCode({ address: getAddress(requirements.asset) }), signer.getCode({ address: message.from })])
      if (!assetCode || assetCode === '0x' || (payerCode && payerCode !== '0x')) return undefined
      const asset = requirements.asset as Hex
      const data = transferWithAuthorizationData(message, signature)
      const key = payerKey(asset, message.from)
      const k = known.get(key)
      if (options?.deferChainCheck && k && k.until > Date.now() && k.balance >= message.value) {
        k.balance -= message.value
        const chainCheck = async (): Promise<VerifyResponse> => {
          try {
            await simulate(asset, data)
            return { isValid: true, payer: a.from }
          } catch (err) {
            if (isTransportFailure(err)) throw err
            known.delete(key)
            return core.verify(payload, requirements)
          }
        }
        return { isValid: true, payer: a.from, chainCheck: () => guard(chainCheck) }
      }
      const [, balance] = await Promise.all([simulate(asset, data), balanceOf(asset, message.from)])
      if (known.size >= 10_000) for (const [kk, v] of known) if (v.until <= Date.now()) known.delete(kk)
      if (known.size < 10_000) known.set(key, { balance: balance - message.value, until: Date.now() + KNOWN_BALANCE_TTL_MS })
      return { isValid: true, payer: a.from }
    } catch (err) {
      if (isTransportFailure(err)) throw err
      return undefined
    }
  }

  /**
   * The happy path of the SDK's upto (Permit2) verify for an EOA payer without gas-sponsoring extensions, cheaper:
   * the same field checks, the Permit2 witness signature recovered natively (the SDK recovers in JS), cached
   * getCode, then the same settle simulation through the upto proxy. Anything else goes to the SDK's verify.
   */
  async function fastVerifyUpto(payload: PaymentPayload, requirements: PaymentRequirements): Promise<VerifyResponse | undefined> {
    if (!isPlainUpto(payload, requirements)) return undefined
    const a = parsePermit2Authorization(payload.payload)!
    const signature = (payload.payload as { signature: Hex }).signature
    if (payload.accepted?.scheme !== 'upto' || payload.accepted.network !== requirements.network || requirements.network !== caip2) return undefined
    const now = BigInt(Math.floor(Date.now() / 1000))
    const eq = (x: string, y: string) => x.toLowerCase() === y.toLowerCase()
    if (!eq(a.spender, x402UptoPermit2ProxyAddress) || !eq(a.witness.to, requirements.payTo) || !eq(a.witness.facilitator, signer.address)
      || !eq(a.permitted.token, requirements.asset) || BigInt(a.permitted.amount) !== BigInt(requirements.amount)
      || BigInt(a.deadline) < now + 6n || BigInt(a.witness.validAfter) > now) return undefined
    try {
      const message = {
        permitted: { token: a.permitted.token as Hex, amount: BigInt(a.permitted.amount) }, spender: a.spender as Hex, nonce: BigInt(a.nonce),
        deadline: BigInt(a.deadline), witness: { to: a.witness.to as Hex, facilitator: a.witness.facilitator as Hex, validAfter: BigInt(a.witness.validAfter) },
      }
      const digest = uptoPermitDigest(opts.chainId, PERMIT2_ADDRESS, message)
      if (!signedBy(digest, signature, a.from, true)) return undefined
      const [assetCode, payerCode] = await Promise.all([signer.getCode({ address: requirements.asset as Hex }), signer.getCode({ address: a.from as Hex })])
      if (!assetCode || assetCode === '0x' || (payerCode && payerCode !== '0x')) return undefined
      await simulate(x402UptoPermit2ProxyAddress as Hex, uptoSettleData(a, message.permitted.amount, signature))
      return { isValid: true, payer: a.from }
    } catch (err) {
      if (isTransportFailure(err)) throw err
      return undefined
    }
  }

  return {
    id: 'local',
    settlerAddress: signer.address,
    uptoSettler: (network) => (network === caip2 ? signer.address : undefined),
    supported: () => core.getSupported() as SupportedResponse,
    verify: (payload, requirements, options) => guard(async () =>
      (await (requirements.scheme === 'upto' ? fastVerifyUpto(payload, requirements) : fastVerify(payload, requirements, options))) ?? core.verify(payload, requirements)),
    settle: (payload, requirements, hooks) => guard(() => (isPlainUpto(payload, requirements) ? settleUpto(payload, requirements, hooks)
      : isPlainEip3009(payload) ? settleEip3009(payload, requirements, hooks) : core.settle(payload, requirements))),
    observe(network: string): FacilitatorObservation {
      const supports = network === caip2
      return { configured: true, supportsNetwork: supports, url: 'local', ...(reachable === undefined ? {} : { reachable }), ...(detail && reachable === false ? { detail } : supports ? {} : { detail: `the local facilitator settles on ${caip2} only` }) }
    },
    async refresh() {
      try {
        await rpc.call('eth_chainId')
        reachable = true
        detail = undefined
      } catch (err) {
        reachable = false
        detail = (err as Error).message
      }
    },
    chain: {
      async authorizationUsed(asset, authorizer, nonce, scheme) {
        if (scheme === 'upto') {
          const n = BigInt(nonce)
          const word = await signer.readContract({ address: PERMIT2_ADDRESS, abi: PERMIT2_NONCE_ABI, functionName: 'nonceBitmap', args: [authorizer, n >> 8n] }) as bigint
          return ((word >> (n & 255n)) & 1n) === 1n
        }
        return await signer.readContract({ address: asset as Hex, abi: AUTH_STATE_ABI, functionName: 'authorizationState', args: [authorizer, nonce] }) as boolean
      },
      async receipt(txHash) {
        const r = await signer.getReceipt(txHash as Hex)
        return r && { success: r.status === 'success' }
      },
      isKnown: (txHash) => signer.isKnown(txHash as Hex),
    },
    async close() {
      signer.close()
      await rpc.close()
    },
  }
}
