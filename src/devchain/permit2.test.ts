import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x402Client } from '@x402/core/client'
import { x402Facilitator } from '@x402/core/facilitator'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import {
  PERMIT2_ADDRESS as SDK_PERMIT2, toClientEvmSigner, toFacilitatorEvmSigner, x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress,
} from '@x402/evm'
import { ExactEvmScheme as ClientExact } from '@x402/evm/exact/client'
import { ExactEvmScheme as FacilitatorExact } from '@x402/evm/exact/facilitator'
import { UptoEvmScheme as ClientUpto } from '@x402/evm/upto/client'
import { UptoEvmScheme as FacilitatorUpto } from '@x402/evm/upto/facilitator'
import { BaseError as ViemBaseError, ContractFunctionRevertedError, domainSeparator, parseSignature, publicActions, serializeCompactSignature,
  signatureToCompactSignature, type Address, type Hex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { homePaths } from '../state/home.ts'
import { isAlive } from './anvil.ts'
import { BUYER_START_USDC, chainClients, DEV_KEYS } from './contracts.ts'
import { ensureDevChain, stopDevChain, usdcBalance, type DevChainInfo } from './devChain.ts'
import {
  approvePermit2, ensurePermit2Contracts, permit2Abi, PERMIT2_ADDRESS, X402_EXACT_PERMIT2_PROXY_ADDRESS, X402_UPTO_PERMIT2_PROXY_ADDRESS,
  x402UptoPermit2ProxyAbi,
} from './permit2.ts'
import { readRecord } from './record.ts'

const PAY_TO: Address = '0x90F79bf6EB2c4f870365E785982E1f101E93b906' // anvil account #3
const MAX = 50_000n
const ACTUAL = 12_345n

async function devChain(t: { after: (fn: () => Promise<void> | void) => void }, chainId: number): Promise<DevChainInfo> {
  const dir = mkdtempSync(join(tmpdir(), 'vend-permit2-'))
  const paths = homePaths(dir)
  t.after(async () => {
    await stopDevChain(paths).catch(() => {})
    const pid = readRecord(paths)?.pid
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  return ensureDevChain(paths, { chainId })
}

/** The official facilitator, settling with the dev chain's settlement key. */
function facilitatorSigner(info: DevChainInfo, key: Hex = info.settler.privateKey) {
  const wallet = chainClients(info.rpcUrl, info.chainId).wallet(key).extend(publicActions)
  // viem's verifyTypedData is wider than the signer type spells it
  return toFacilitatorEvmSigner({ ...wallet, address: wallet.account.address } as unknown as Parameters<typeof toFacilitatorEvmSigner>[0])
}

function buyerSigner(info: DevChainInfo) {
  return toClientEvmSigner(privateKeyToAccount(info.buyer.privateKey), chainClients(info.rpcUrl, info.chainId).pub)
}

async function createPayment(client: x402Client, req: PaymentRequirements): Promise<PaymentPayload> {
  return client.createPaymentPayload({
    x402Version: 2, resource: { url: 'http://127.0.0.1/v1/chat/completions', description: 'test', mimeType: 'application/json' }, accepts: [req],
  })
}

/** 'ok', or the custom error a simulated call reverts with. */
async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
    return 'ok'
  } catch (err) {
    const reverted = err instanceof ViemBaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : undefined
    return (reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined) ?? String(err)
  }
}

test('upto on the dev chain: Permit2 and the proxy at canonical addresses; the official SDK verifies the max and settles the actual amount', async (t) => {
  const info = await devChain(t, 31337)
  const c = chainClients(info.rpcUrl, info.chainId)
  assert.deepEqual([PERMIT2_ADDRESS, X402_EXACT_PERMIT2_PROXY_ADDRESS, X402_UPTO_PERMIT2_PROXY_ADDRESS], [SDK_PERMIT2, x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress])

  // what a signature is made for: Permit2's domain at the canonical address on this chain
  const separator = await c.pub.readContract({ address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: 'DOMAIN_SEPARATOR' })
  assert.equal(separator, domainSeparator({ domain: { name: 'Permit2', chainId: info.chainId, verifyingContract: PERMIT2_ADDRESS } }))
  assert.equal(await c.pub.readContract({ address: X402_UPTO_PERMIT2_PROXY_ADDRESS, abi: x402UptoPermit2ProxyAbi, functionName: 'PERMIT2' }), PERMIT2_ADDRESS)
  assert.deepEqual(await ensurePermit2Contracts(info.rpcUrl), [], 'the dev chain already has them (contracts.ts extraDeployments)')
  await assert.rejects(ensurePermit2Contracts('http://127.0.0.1:1'), /No dev chain answers at http:\/\/127\.0\.0\.1:1/)

  const facilitator = new x402Facilitator().register(info.caip2, new FacilitatorUpto(facilitatorSigner(info)))
  const client = new x402Client().register('eip155:*', new ClientUpto(buyerSigner(info)))
    .setSpendControls({ allowedAssets: [{ network: info.caip2, asset: info.usdc.address }] })
  const req: PaymentRequirements = {
    scheme: 'upto', network: info.caip2, asset: info.usdc.address, amount: String(MAX), payTo: PAY_TO, maxTimeoutSeconds: 300,
    extra: { name: info.usdc.name, version: info.usdc.version, assetTransferMethod: 'permit2', facilitatorAddress: info.settler.address },
  }
  const at = (amount: bigint): PaymentRequirements => ({ ...req, amount: String(amount) })

  const payment = await createPayment(client, req)
  assert.equal((await facilitator.verify(payment, req)).invalidReason, 'permit2_allowance_required', 'no approval yet')
  const buyerWallet = c.wallet(info.buyer.privateKey)
  assert.match(await approvePermit2(buyerWallet, info.usdc.address) ?? '', /^0x[0-9a-f]{64}$/)
  assert.equal(await approvePermit2(buyerWallet, info.usdc.address), undefined, 'approved once, not again')
  const verified = await facilitator.verify(payment, req)
  assert.equal(verified.isValid, true, JSON.stringify(verified))
  assert.equal(verified.payer, info.buyer.address)

  // above the signed maximum: refused before any transaction, and the authorisation stays usable
  const block = await c.pub.getBlockNumber()
  const over = await facilitator.settle(payment, at(MAX + 1n))
  assert.deepEqual([over.success, over.errorReason], [false, 'invalid_upto_evm_payload_settlement_exceeds_amount'])
  // the proxy itself refuses a stranger, and a recipient the buyer did not sign
  const args = (amount: bigint, to: Address) => {
    const a = (payment.payload as { permit2Authorization: { permitted: { token: Address; amount: string }; nonce: string; deadline: string; witness: { validAfter: string } } }).permit2Authorization
    return [
      { permitted: { token: a.permitted.token, amount: BigInt(a.permitted.amount) }, nonce: BigInt(a.nonce), deadline: BigInt(a.deadline) },
      amount, info.buyer.address, { to, facilitator: info.settler.address, validAfter: BigInt(a.witness.validAfter) },
      payment.payload.signature as Hex,
    ] as const
  }
  const proxyAndPermit2Errors = [...x402UptoPermit2ProxyAbi, ...permit2Abi.filter((x) => x.type === 'error')]
  const simulate = (account: Address, amount: bigint, to: Address) => () => c.pub.simulateContract({
    account, address: X402_UPTO_PERMIT2_PROXY_ADDRESS, abi: proxyAndPermit2Errors, functionName: 'settle', args: args(amount, to),
  })
  assert.equal(await outcome(simulate(info.buyer.address, ACTUAL, PAY_TO)), 'UnauthorizedFacilitator')
  assert.equal(await outcome(simulate(info.settler.address, ACTUAL, info.settler.address)), 'InvalidSigner')
  assert.equal(await outcome(simulate(info.settler.address, MAX + 1n, PAY_TO)), 'AmountExceedsPermitted')
  assert.equal(await outcome(simulate(info.settler.address, ACTUAL, PAY_TO)), 'ok')
  // nothing to charge: success without a transaction
  const zero = await facilitator.settle(payment, at(0n))
  assert.deepEqual([zero.success, zero.transaction, zero.amount], [true, '', '0'])
  assert.equal(await c.pub.getBlockNumber(), block, 'no transaction was sent')

  const settled = await facilitator.settle(payment, at(ACTUAL))
  assert.equal(settled.success, true, JSON.stringify(settled))
  assert.equal(settled.amount, String(ACTUAL))
  const receipt = await c.pub.getTransactionReceipt({ hash: settled.transaction as Hex })
  assert.equal(receipt.from.toLowerCase(), info.settler.address.toLowerCase())
  assert.equal(await usdcBalance(info, info.buyer.address), BUYER_START_USDC - ACTUAL)
  assert.equal(await usdcBalance(info, PAY_TO), ACTUAL)

  // the nonce is spent: the same authorisation cannot be settled again
  const again = await facilitator.settle(payment, at(1n))
  assert.deepEqual([again.success, again.errorReason], [false, 'permit2_simulation_failed'])
  const nonce = BigInt((payment.payload as { permit2Authorization: { nonce: string } }).permit2Authorization.nonce)
  const used = await c.pub.readContract({ address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: 'nonceBitmap', args: [info.buyer.address, nonce >> 8n] })
  assert.notEqual((used as bigint) & (1n << (nonce & 255n)), 0n, 'Permit2 marked the nonce used')
  assert.equal(await usdcBalance(info, PAY_TO), ACTUAL)

  // a facilitator other than the one the buyer signed for is refused
  const other = new x402Facilitator().register(info.caip2, new FacilitatorUpto(facilitatorSigner(info, DEV_KEYS.owner)))
  const fresh = await createPayment(client, req)
  assert.equal((await other.verify(fresh, req)).invalidReason, 'upto_facilitator_mismatch')
})

test('exact with Permit2 on the Base Sepolia-shaped dev chain: the official SDK verifies and settles the exact amount, once', async (t) => {
  const info = await devChain(t, 84532)
  const c = chainClients(info.rpcUrl, info.chainId)
  const facilitator = new x402Facilitator().register(info.caip2, new FacilitatorExact(facilitatorSigner(info)))
  const client = new x402Client().register('eip155:*', new ClientExact(buyerSigner(info))) // canonical USDC: no allow-listing
  const req: PaymentRequirements = {
    scheme: 'exact', network: info.caip2, asset: info.usdc.address, amount: String(ACTUAL), payTo: PAY_TO, maxTimeoutSeconds: 300,
    extra: { name: info.usdc.name, version: info.usdc.version, assetTransferMethod: 'permit2' },
  }
  const payment = await createPayment(client, req)
  assert.equal((payment.payload as { permit2Authorization?: { spender: string } }).permit2Authorization?.spender, X402_EXACT_PERMIT2_PROXY_ADDRESS)
  await approvePermit2(c.wallet(info.buyer.privateKey), info.usdc.address)
  const verified = await facilitator.verify(payment, req)
  assert.equal(verified.isValid, true, JSON.stringify(verified))
  const settled = await facilitator.settle(payment, req)
  assert.equal(settled.success, true, JSON.stringify(settled))
  assert.equal(await usdcBalance(info, info.buyer.address), BUYER_START_USDC - ACTUAL)
  assert.equal(await usdcBalance(info, PAY_TO), ACTUAL)
  const replay = await facilitator.verify(payment, req)
  assert.deepEqual([replay.isValid, replay.invalidReason], [false, 'permit2_simulation_failed'])
  assert.equal(await usdcBalance(info, PAY_TO), ACTUAL)
})

test('Permit2 on its own: a compact (EIP-2098) signature transfers once; an expired or over-limit permit is refused', async (t) => {
  const info = await devChain(t, 31337)
  const c = chainClients(info.rpcUrl, info.chainId)
  const spender = c.wallet(info.settler.privateKey) // the spender is whoever calls Permit2
  await approvePermit2(c.wallet(info.buyer.privateKey), info.usdc.address)
  const now = BigInt(Math.floor(Date.now() / 1000))
  const sign = async (nonce: bigint, deadline: bigint) => {
    const permit = { permitted: { token: info.usdc.address, amount: MAX }, nonce, deadline }
    const signature = await privateKeyToAccount(info.buyer.privateKey).signTypedData({
      domain: { name: 'Permit2', chainId: info.chainId, verifyingContract: PERMIT2_ADDRESS },
      types: {
        PermitTransferFrom: [
          { name: 'permitted', type: 'TokenPermissions' }, { name: 'spender', type: 'address' },
          { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' },
        ],
        TokenPermissions: [{ name: 'token', type: 'address' }, { name: 'amount', type: 'uint256' }],
      },
      primaryType: 'PermitTransferFrom',
      message: { ...permit, spender: spender.account.address },
    })
    return { permit, compact: serializeCompactSignature(signatureToCompactSignature(parseSignature(signature))) }
  }
  const transfer = (s: Awaited<ReturnType<typeof sign>>, amount: bigint) => () => c.pub.simulateContract({
    account: spender.account, address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: 'permitTransferFrom',
    args: [s.permit, { to: PAY_TO, requestedAmount: amount }, info.buyer.address, s.compact],
  })

  const good = await sign(7n, now + 600n)
  assert.equal(good.compact.length, 2 + 128)
  assert.equal(await outcome(transfer(good, MAX + 1n)), 'InvalidAmount')
  assert.equal(await outcome(transfer(await sign(8n, now - 3600n), ACTUAL)), 'SignatureExpired')
  const { request } = await transfer(good, ACTUAL)()
  assert.equal((await c.pub.waitForTransactionReceipt({ hash: await spender.writeContract(request) })).status, 'success')
  assert.equal(await usdcBalance(info, PAY_TO), ACTUAL)
  assert.equal(await outcome(transfer(good, 1n)), 'InvalidNonce')
})
