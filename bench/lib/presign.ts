/** Payment headers signed ahead of time by the official client (x402Client + @x402/evm exact), from a server's own 402. */
import { x402Client } from '@x402/core/client'
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from '@x402/core/http'
import { registerExactEvmScheme } from '@x402/evm/exact/client'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

export type Buyer = { privateKey: Hex; caip2: string; usdc: string }

/** `count` PAYMENT-SIGNATURE headers for `url`, each its own EIP-3009 authorisation (random nonce). */
export async function presign(buyer: Buyer, url: string, count: number): Promise<string[]> {
  const res = await fetch(url)
  if (res.status !== 402) throw new Error(`expected a 402 challenge from ${url}, got ${res.status}`)
  const required = decodePaymentRequiredHeader(res.headers.get('payment-required')!)
  const allowed = { allowedAssets: [{ network: buyer.caip2 as `${string}:${string}`, asset: buyer.usdc }] }
  const client = registerExactEvmScheme(new x402Client().setSpendControls(allowed), { signer: privateKeyToAccount(buyer.privateKey) })
  const out: string[] = []
  for (let i = 0; i < count; i++) out.push(encodePaymentSignatureHeader(await client.createPaymentPayload(required)))
  return out
}
