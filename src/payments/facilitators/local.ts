/**
 * The in-process facilitator: @x402/core's x402Facilitator with @x402/evm's exact scheme (v2, plus v1 where the
 * chain has a v1 network name), settling with a key we hold. The seller pays gas. Chain access goes through the
 * fast settlement signer (see chain/settlementSigner.ts).
 */
import { x402Facilitator } from '@x402/core/facilitator'
import type { Network, PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { ExactEvmScheme } from '@x402/evm/exact/facilitator'
import { ExactEvmSchemeV1 } from '@x402/evm/exact/v1/facilitator'
import { EVM_NETWORK_CHAIN_ID_MAP } from '@x402/evm/v1'
import type { Hex } from 'viem'
import type { FacilitatorObservation } from '../../reconciler/types.ts'
import { createRpcClient, RpcUnavailableError } from '../chain/rpc.ts'
import { createSettlementSigner } from '../chain/settlementSigner.ts'
import { FacilitatorUnavailableError, type Facilitator, type SettleHooks } from './types.ts'

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

/** The x402 v1 network name of a chain id (e.g. 84532 -> base-sepolia), if it has one. */
export function v1NetworkName(chainId: number): string | undefined {
  return Object.entries(EVM_NETWORK_CHAIN_ID_MAP).find(([, id]) => id === chainId)?.[0]
}

/** The RPC could not be reached (possibly wrapped by the SDK), as opposed to a chain answer. */
function isTransportFailure(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof RpcUnavailableError || /JSON-RPC endpoint .* unreachable/.test(e.message)) return true
  return false
}

const authKey = (asset: string, from: string, nonce: string) => `${asset}:${from}:${nonce}`.toLowerCase()

export type LocalFacilitator = Facilitator & { settlerAddress: string }

export function createLocalFacilitator(opts: LocalFacilitatorOptions): LocalFacilitator {
  const caip2 = `eip155:${opts.chainId}` as Network
  const rpc = createRpcClient(opts.rpcUrl)
  const txListeners = new Map<string, NonNullable<SettleHooks['onTxHash']>>()
  const signer = createSettlementSigner({
    rpc, chainId: opts.chainId, privateKey: opts.privateKey, ...(opts.receiptPollMs ? { receiptPollMs: opts.receiptPollMs } : {}),
    beforeBroadcast: async ({ txHash, to, functionName, args }) => {
      if (functionName !== 'transferWithAuthorization' || !args) return
      await txListeners.get(authKey(to, String(args[0]), String(args[5])))?.(txHash)
    },
  })
  const core = new x402Facilitator().register(caip2, new ExactEvmScheme(signer))
  const v1 = v1NetworkName(opts.chainId)
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

  return {
    id: 'local',
    settlerAddress: signer.address,
    verify: (payload, requirements) => guard(() => core.verify(payload, requirements)),
    async settle(payload: PaymentPayload, requirements: PaymentRequirements, hooks?: SettleHooks) {
      const auth = (payload.payload as { authorization?: { from: string; nonce: string } }).authorization
      const key = auth && hooks?.onTxHash ? authKey(requirements.asset, auth.from, auth.nonce) : undefined
      if (key && hooks?.onTxHash) txListeners.set(key, hooks.onTxHash)
      try {
        const res = await guard(() => core.settle(payload, requirements))
        // a broadcast that failed at the transport level is reported as a failed settle by the SDK: surface it as transient
        if (!res.success && /JSON-RPC endpoint .* unreachable/.test(res.errorMessage ?? '')) {
          reachable = false
          throw new FacilitatorUnavailableError('local', new Error(res.errorMessage))
        }
        return res
      } finally {
        if (key) txListeners.delete(key)
      }
    },
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
      async authorizationUsed(asset, authorizer, nonce) {
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
