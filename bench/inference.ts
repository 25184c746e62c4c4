/**
 * Inference benchmarks on the tiny GGUF (test/helpers/tinyModel.ts), CPU, 1 thread:
 * - time to first token: a streamed chat completion from the embedded runtime directly vs through a Vend paid
 *   route in front of it (per-request price, header pre-signed; the metered per-token inference route is not
 *   wired into the gateway yet, so this is the generic paid HTTP route with an inference upstream);
 * - tokens/s of the embedded runtime (its HTTP surface) vs node-llama-cpp called directly, same model and threads.
 */
import { getLlama, LlamaCompletion, LlamaLogLevel } from 'node-llama-cpp'
import { startEmbeddedModel, type EmbeddedModel } from '../src/inference/embeddedRuntime.ts'
import { ensureTinyModel } from '../test/helpers/tinyModel.ts'
import { median, presign, startPaidServer, PRICE } from './paidRoute.ts'
import { startTestChain } from '../src/payments/testChain.ts'

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

export async function ttftScenario({ samples }: { samples: number }): Promise<{ paidMs: number; directMs: number }> {
  const rt = await startEmbeddedModel({ file: await ensureTinyModel(), modelName: MODEL, threads: 1 })
  const chain = await startTestChain({ buyerFunds: 1_000_000_000n })
  try {
    const server = await startPaidServer({ kind: 'vend', chain, price: PRICE, modelUrl: rt.url })
    try {
      const paidUrl = `${server.base}/services/model/v1/chat/completions`
      const direct = `${rt.url}/v1/chat/completions`
      const headers = await presign(chain, paidUrl, samples + 1)
      await timeToFirstToken(direct)
      await timeToFirstToken(paidUrl, { 'payment-signature': headers.pop()! })
      const d: number[] = []
      const p: number[] = []
      for (const h of headers) { // interleaved, so machine noise hits both
        d.push(await timeToFirstToken(direct))
        p.push(await timeToFirstToken(paidUrl, { 'payment-signature': h }))
      }
      return { paidMs: median(p), directMs: median(d) }
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
