import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { ensureTinyModel } from '../../test/helpers/tinyModel.ts'
import { EmbeddedRuntimeError, startEmbeddedModel, type EmbeddedModel } from './embeddedRuntime.ts'
import { createStreamMeter, streamUsage } from './streamUsage.ts'
import { detectLocalUpstream, listModels, observeUpstreamModel } from './upstream.ts'
import { validateRequest, type InferenceKind } from './validateRequest.ts'

const MODEL = 'tiny-chat'
let rt: EmbeddedModel
let file: string

before(async () => {
  file = await ensureTinyModel()
  rt = await startEmbeddedModel({ file, modelName: MODEL, threads: 1 })
})
after(async () => { await rt?.close() })

type Json = Record<string, any>
async function post(path: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${rt.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() as Json }
}
function validated(kind: InferenceKind, body: unknown) {
  const v = validateRequest(kind, JSON.stringify(body), { model: MODEL, maxTokens: 2048 })
  assert.ok(v.ok)
  return v.request
}

/** Stream a request over raw HTTP, recording for each SSE event the index of the network read it arrived in. */
function streamRaw(body: unknown, onEvent?: (data: string, req: http.ClientRequest) => void): Promise<{ events: { data: string; read: number }[]; bytes: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${rt.url}/v1/chat/completions`)
    const events: { data: string; read: number }[] = []
    const bytes: Buffer[] = []
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let pending = ''
      let read = 0
      res.on('data', (c: Buffer) => {
        bytes.push(c)
        pending += c.toString('utf8')
        let i: number
        while ((i = pending.indexOf('\n\n')) >= 0) {
          const data = pending.slice(0, i).replace(/^data: /, '')
          pending = pending.slice(i + 2)
          events.push({ data, read })
          onEvent?.(data, req)
        }
        read++
      })
      res.on('end', () => resolve({ events, bytes }))
      res.on('error', reject)
      res.on('aborted', () => resolve({ events, bytes }))
    })
    req.on('error', (err) => (req.destroyed ? resolve({ events, bytes }) : reject(err)))
    req.end(JSON.stringify(body))
  })
}

test('health and model list; listModels and the ModelReady observation read it', async () => {
  const h = await fetch(`${rt.url}/health`)
  assert.equal(h.status, 200)
  assert.equal((await fetch(`${rt.url}/v1/nothing`)).status, 404)
  const wrongMethod = await fetch(`${rt.url}/v1/chat/completions`)
  assert.equal(wrongMethod.status, 405)
  assert.equal(wrongMethod.headers.get('allow'), 'POST')
  assert.deepEqual(await listModels({ url: rt.url, api: 'openai' }), [MODEL])
  assert.deepEqual(await listModels({ url: `${rt.url}/v1/`, api: 'openai' }), [MODEL])
  assert.deepEqual(await observeUpstreamModel({ url: rt.url, api: 'openai' }, MODEL), { ready: true, reason: 'ModelListed', message: `The upstream serves model ${MODEL}.` })
  assert.deepEqual(await observeUpstreamModel({ url: rt.url, api: 'openai' }, 'llama3'), { ready: false, reason: 'ModelNotFound', message: `The upstream does not serve model llama3; it has: ${MODEL}.` })
})

test('detectLocalUpstream skips closed ports and returns the first server that lists its models', async () => {
  const closed = http.createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const port = (closed.address() as AddressInfo).port
  await new Promise<void>((r) => closed.close(() => r()))
  const found = await detectLocalUpstream({ candidates: [{ url: `http://127.0.0.1:${port}`, api: 'ollama' }, { url: rt.url, api: 'openai' }], timeoutMs: 2000 })
  assert.deepEqual(found, { url: rt.url, api: 'openai', models: [MODEL] })
  assert.equal(await detectLocalUpstream({ candidates: [{ url: `http://127.0.0.1:${port}`, api: 'openai' }] }), undefined)
})

test('chat without streaming returns text and usage counted with the model tokenizer; max_tokens is honoured', async () => {
  const body = { model: MODEL, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'what is the water like' }], max_tokens: 6, temperature: 0 }
  const { status, json } = await post('/v1/chat/completions', body)
  assert.equal(status, 200)
  assert.equal(json['object'], 'chat.completion')
  assert.equal(json['model'], MODEL)
  const choice = json['choices'][0]
  assert.equal(choice.message.role, 'assistant')
  assert.equal(typeof choice.message.content, 'string')
  const usage = json['usage']
  assert.equal(usage.prompt_tokens, rt.countPromptTokens(validated('chat', body)))
  // The chat template adds headers around the messages: more tokens than the message texts alone.
  assert.ok(usage.prompt_tokens > rt.tokenize('be brief').length + rt.tokenize('what is the water like').length)
  assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= 6)
  if (choice.finish_reason === 'length') assert.equal(usage.completion_tokens, 6)
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens)
})

test('completions count the prompt exactly: the beginning-of-sequence token llama.cpp prepends plus the prompt tokens', async () => {
  const body = { model: MODEL, prompt: 'the water is', max_tokens: 4, temperature: 0 }
  const { status, json } = await post('/v1/completions', body)
  assert.equal(status, 200)
  assert.equal(json['object'], 'text_completion')
  assert.equal(json['usage'].prompt_tokens, 1 + rt.tokenize('the water is').length)
  assert.equal(json['usage'].prompt_tokens, rt.countPromptTokens(validated('completion', body)))
})

test('streaming: chunks arrive while the model generates; usage in the final chunk; the stream meter agrees', async () => {
  const body = { model: MODEL, messages: [{ role: 'user', content: 'tell me about the water' }], max_tokens: 600, temperature: 0, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }
  const { events, bytes } = await streamRaw(body)
  assert.equal(events.at(-1)?.data, '[DONE]')
  const chunks = events.slice(0, -1).map((e) => ({ ...e, json: JSON.parse(e.data) as Json }))
  const contentChunks = chunks.filter((c) => c.json['choices'][0]?.delta?.content)
  const final = chunks.at(-1)!
  assert.deepEqual(final.json['choices'], [])
  const usage = final.json['usage']
  assert.equal(usage.prompt_tokens, rt.countPromptTokens(validated('chat', body)))
  assert.ok(usage.completion_tokens <= 600 && usage.completion_tokens >= contentChunks.length)
  // Incremental: the first content chunk was written when one token existed and reached us in an earlier read than the end.
  const first = contentChunks[0]!
  assert.equal(first.json['usage'].completion_tokens, 1)
  assert.ok(first.read < events.at(-1)!.read, 'the first content chunk arrived in the same read as [DONE]: the stream was buffered')

  // The stream meter, fed the same bytes in arbitrary pieces, finds the same totals and delivered deltas.
  const meter = createStreamMeter()
  const all = Buffer.concat(bytes)
  for (let i = 0; i < all.length; i += 37) meter.push(all.subarray(i, i + 37))
  meter.flush()
  const r = meter.result()
  assert.deepEqual(r.usage, { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens })
  assert.equal(r.contentDeltas, contentChunks.length)
  assert.equal(r.finished, true)
})

test('the stream meter removes the usage chunk the buyer did not ask for, and still meters it', async () => {
  const body = { model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 20, temperature: 0, stream: true, stream_options: { include_usage: true } }
  const { events, bytes } = await streamRaw(body)
  const usage = JSON.parse(events.at(-2)!.data)['usage']
  const meter = createStreamMeter({ dropUsage: true })
  const all = Buffer.concat(bytes)
  const forwarded: Uint8Array[] = []
  for (let i = 0; i < all.length; i += 50) forwarded.push(meter.push(all.subarray(i, i + 50)))
  forwarded.push(meter.flush())
  const text = Buffer.concat(forwarded).toString('utf8')
  const out = text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''))
  assert.equal(out.length, events.length - 1)
  assert.equal(out.at(-1), '[DONE]')
  assert.ok(out.slice(0, -1).every((d) => (JSON.parse(d) as Json)['choices'].length === 1))
  assert.deepEqual(meter.result().usage, { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens })
})

test('an abandoned stream is metered for the tokens delivered, not the maximum', async () => {
  const body = { model: MODEL, messages: [{ role: 'user', content: 'go on' }], max_tokens: 1500, temperature: 0, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }
  const meter = createStreamMeter()
  let content = 0
  const { events } = await streamRaw(body, (data, req) => {
    meter.push(Buffer.from(`data: ${data}\n\n`))
    if (data !== '[DONE]' && (JSON.parse(data) as Json)['choices'][0]?.delta?.content && ++content === 3) req.destroy()
  })
  assert.ok(events.every((e) => e.data !== '[DONE]'))
  const used = streamUsage(meter.result(), 999)
  assert.equal(meter.result().finished, false)
  assert.ok(used.completionTokens >= 3 && used.completionTokens < 1500, `completion tokens ${used.completionTokens}`)
  assert.equal(used.promptTokens, rt.countPromptTokens(validated('chat', body)))
  // The runtime stopped generating and serves the next request.
  const next = await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
  assert.equal(next.status, 200)
})

test('without usage from the upstream, a stream is metered as prompt tokens plus one per delivered delta', () => {
  const meter = createStreamMeter()
  meter.push(Buffer.from('data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\ndata: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'))
  meter.push(Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\r\n\r\ndata: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'))
  assert.deepEqual(streamUsage(meter.result(), 12), { promptTokens: 12, completionTokens: 2 })
  assert.equal(meter.result().finished, true)
})

test('the official openai SDK works against the runtime, with and without streaming', async () => {
  const client = new OpenAI({ baseURL: `${rt.url}/v1`, apiKey: 'not-needed', maxRetries: 0 })
  const models = await client.models.list()
  assert.deepEqual(models.data.map((m) => m.id), [MODEL])
  const done = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, temperature: 0 })
  assert.equal(done.choices[0]?.message.role, 'assistant')
  assert.ok(done.usage && done.usage.completion_tokens <= 5 && done.usage.prompt_tokens > 0)

  const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, temperature: 0, stream: true, stream_options: { include_usage: true } })
  let text = ''
  let usage: OpenAI.CompletionUsage | undefined
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? ''
    if (chunk.usage) usage = chunk.usage
  }
  assert.ok(usage && usage.completion_tokens <= 5)
  assert.equal(text, done.choices[0]?.message.content, 'same seed-free greedy decoding gives the same text streamed or not')

  const completion = await client.completions.create({ model: MODEL, prompt: 'the water is', max_tokens: 3, temperature: 0 })
  assert.equal(completion.usage?.prompt_tokens, rt.countPromptTokens(validated('completion', { model: MODEL, prompt: 'the water is' })))

  const emb = await client.embeddings.create({ model: MODEL, input: ['hello there', 'the water'] })
  assert.equal(emb.data.length, 2)
  assert.ok(emb.data.every((d) => d.embedding.length === 64))
  // The SDK asks for base64; plain JSON floats give the same vector.
  const raw = await post('/v1/embeddings', { model: MODEL, input: 'hello there' })
  assert.deepEqual(emb.data[0]?.embedding, (raw.json['data'][0].embedding as number[]).map(Math.fround))
  assert.equal(emb.usage.prompt_tokens, rt.countPromptTokens(validated('embedding', { model: MODEL, input: ['hello there', 'the water'] })))

  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    (err: unknown) => err instanceof OpenAI.BadRequestError && /this offer serves "tiny-chat"/.test(err.message))
})

test('requests wait their turn: concurrent requests all complete', async () => {
  const results = await Promise.all([1, 2, 3].map((n) => post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: `number ${n}` }], max_tokens: 3 })))
  assert.deepEqual(results.map((r) => r.status), [200, 200, 200])
})

test('a request beyond the context window is a 400 in OpenAI shape', async () => {
  const { status, json } = await post('/v1/completions', { model: MODEL, prompt: 'the water is', max_tokens: rt.contextSize })
  assert.equal(status, 400)
  assert.equal(json['error'].code, 'context_length_exceeded')
  assert.match(json['error'].message, new RegExp(`maximum context length is ${rt.contextSize} tokens`))
  const long = await post('/v1/embeddings', { model: MODEL, input: ['short', 'the '.repeat(3000)] })
  assert.equal(long.status, 400)
  assert.equal(long.json['error'].code, 'context_length_exceeded')
})

test('a missing model file is a clear error with the ModelReady reason', async () => {
  await assert.rejects(startEmbeddedModel({ file: '/nonexistent/model.gguf', modelName: 'x' }),
    (err: unknown) => err instanceof EmbeddedRuntimeError && err.reason === 'ModelFileMissing' && /\/nonexistent\/model\.gguf does not exist/.test(err.message))
})
