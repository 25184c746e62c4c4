/**
 * Inference benchmarks on the tiny GGUF (test/helpers/tinyModel.ts), CPU, 1 thread:
 * - time to first token: a streamed chat completion from the embedded runtime directly vs through a Vend
 *   inference offer in front of it, metered per token and paid with upto (Permit2; headers pre-signed by the
 *   official client from the offer's own 402);
 * - tokens/s of the embedded runtime (its HTTP surface) vs node-llama-cpp called directly, same model and threads.
 */
import { getLlama, LlamaCompletion, LlamaLogLevel } from 'node-llama-cpp'
import { startEmbeddedModel, type EmbeddedModel } from '../src/inference/embeddedRuntime.ts'
import { ensureTinyModel } from '../test/helpers/tinyModel.ts'
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from '@x402/core/http'
import { x402Client } from '@x402/core/client'
import { toClientEvmSigner } from '@x402/evm'
import { UptoEvmScheme } from '@x402/evm/upto/client'
import { privateKeyToAccount } from 'viem/accounts'
import { chainClients } from '../src/devchain/contracts.ts'
import { approvePermit2 } from '../src/devchain/permit2.ts'
import { startTestChain, type TestChain } from '../src/payments/testChain.ts'
import { median, startPaidServer, PRICE } from './paidRoute.ts'

const MODEL = 'tiny'
const chatBody = (stream: boolean, maxTokens: number) => JSON.stringify({
  model: MODEL, stream, max_tokens: maxTokens, temperature: 0, seed: 1, messages: [{ role: 'user', content: 'the water is' }],
})

/** Milliseconds until the first streamed chunk carrying content. */
async function timeToFirstToken(url: string, headers: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now()
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: chatBody(true, 16) })
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  let first = NaN
  let text = ''
  for await (const chunk of res.body!) {
    text += Buffer.from(chunk).toString()
    if (Number.isNaN(first) && /"content":"[^"]/.test(text)) first = performance.now() - t0
  }
  return first
}

/** `count` payment headers for one chat request, signed ahead by the official upto client (Permit2, approved once). */
async function presignUpto(chain: TestChain, url: string, body: string, count: number): Promise<string[]> {
  await approvePermit2(chainClients(chain.rpcUrl, chain.chainId).wallet(chain.buyer.privateKey), chain.usdc.address)
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  if (res.status !== 402) throw new Error(`expected a 402 challenge from ${url}, got ${res.status}`)
  const required = decodePaymentRequiredHeader(res.headers.get('payment-required')!)
  if (required.accepts[0]?.scheme !== 'upto') throw new Error(`expected upto first, got ${required.accepts.map((a) => a.scheme).join(', ')}`)
  const signer = toClientEvmSigner(privateKeyToAccount(chain.buyer.privateKey), chainClients(chain.rpcUrl, chain.chainId).pub)
  const client = new x402Client().register('eip155:*', new UptoEvmScheme(signer))
    .setSpendControls({ allowedAssets: [{ network: chain.caip2 as `${string}:${string}`, asset: chain.usdc.address }] })
  const out: string[] = []
  for (let i = 0; i < count; i++) out.push(encodePaymentSignatureHeader(await client.createPaymentPayload({ ...required, accepts: [required.accepts[0]!] })))
  return out
}

export async function ttftScenario({ samples }: { samples: number }): Promise<{ paidMs: number; freeMs: number; directMs: number }> {
  const rt = await startEmbeddedModel({ file: await ensureTinyModel(), modelName: MODEL, threads: 1 })
  const chain = await startTestChain({ buyerFunds: 1_000_000_000n })
  try {
    const server = await startPaidServer({ kind: 'vend', chain, price: PRICE, modelUrl: rt.url, modelName: MODEL, perMTok: '1' })
    try {
      const paidUrl = `${server.base}/services/model/v1/chat/completions`
      const direct = `${rt.url}/v1/chat/completions`
      const headers = await presignUpto(chain, paidUrl, chatBody(true, 16), samples + 1)
      const freeUrl = `${server.base}/services/model-free/v1/chat/completions`
      await timeToFirstToken(direct)
      await timeToFirstToken(freeUrl)
      await timeToFirstToken(paidUrl, { 'payment-signature': headers.pop()! })
      const d: number[] = []
      const f: number[] = []
      const p: number[] = []
      for (const h of headers) { // interleaved, so machine noise hits all three
        d.push(await timeToFirstToken(direct))
        f.push(await timeToFirstToken(freeUrl))
        p.push(await timeToFirstToken(paidUrl, { 'payment-signature': h }))
      }
      return { paidMs: median(p), freeMs: median(f), directMs: median(d) }
    } finally { await server.stop() }
  } finally {
    await chain.stop()
    await rt.close()
  }
}

async function embeddedTokensPerSec(rt: EmbeddedModel, maxTokens: number): Promise<number> {
  const t0 = performance.now()
  const res = await fetch(`${rt.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, prompt: 'the water is', max_tokens: maxTokens, temperature: 0, seed: 1 }) })
  const body = await res.json() as { usage: { completion_tokens: number } }
  return body.usage.completion_tokens / ((performance.now() - t0) / 1000)
}

export async function tokensScenario({ rounds, maxTokens }: { rounds: number; maxTokens: number }): Promise<{ embedded: number; direct: number }> {
  const file = await ensureTinyModel()
  const rt = await startEmbeddedModel({ file, modelName: MODEL, threads: 1, contextSize: 2048 })
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error })
  const model = await llama.loadModel({ modelPath: file })
  const context = await model.createContext({ contextSize: 2048, threads: 1, sequences: 1 })
  try {
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() })
    const direct = async () => {
      let n = 0
      const t0 = performance.now()
      await completion.generateCompletion('the water is', { maxTokens, temperature: 0, seed: 1, onToken: (t) => { n += t.length } })
      return n / ((performance.now() - t0) / 1000)
    }
    await direct()
    await embeddedTokensPerSec(rt, maxTokens)
    const e: number[] = []
    const d: number[] = []
    for (let i = 0; i < rounds; i++) { d.push(await direct()); e.push(await embeddedTokensPerSec(rt, maxTokens)) }
    return { embedded: median(e), direct: median(d) }
  } finally {
    await context.dispose()
    await model.dispose()
    await rt.close()
  }
}
