import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { apiBase, listModels, modelListed, observeUpstreamModel, upstreamEndpoint, upstreamRequestBody, UpstreamModelsError } from './upstream.ts'
import { validateRequest, type InferenceKind } from './validateRequest.ts'

const req = (kind: InferenceKind, body: Record<string, unknown>) => {
  const v = validateRequest(kind, JSON.stringify({ model: 'm', ...body }), { model: 'm', maxTokens: 64 })
  assert.ok(v.ok)
  return v.request
}

test('endpoints are built from the upstream URL with or without /v1', () => {
  assert.equal(apiBase('http://127.0.0.1:8000/'), 'http://127.0.0.1:8000')
  assert.equal(upstreamEndpoint('https://api.example.com/v1', 'chat'), 'https://api.example.com/v1/chat/completions')
  assert.equal(upstreamEndpoint('https://api.example.com/openai/v1/', 'embedding'), 'https://api.example.com/openai/v1/embeddings')
  assert.equal(upstreamEndpoint('http://127.0.0.1:11434', 'completion'), 'http://127.0.0.1:11434/v1/completions')
})

test('the upstream body always carries the completion limit and asks for usage on streams', () => {
  const plain = JSON.parse(upstreamRequestBody(req('chat', { messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 })))
  assert.deepEqual(plain, { model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0.5, max_tokens: 64 })
  const mct = JSON.parse(upstreamRequestBody(req('chat', { messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 9 })))
  assert.equal(mct.max_completion_tokens, 9)
  assert.equal(mct.max_tokens, undefined)
  const stream = JSON.parse(upstreamRequestBody(req('completion', { prompt: 'x', stream: true, max_tokens: 3 })))
  assert.deepEqual(stream, { model: 'm', prompt: 'x', stream: true, max_tokens: 3, stream_options: { include_usage: true } })
  const cont = JSON.parse(upstreamRequestBody(req('chat', { messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: false } }), { continuousUsage: true }))
  assert.deepEqual(cont.stream_options, { include_usage: true, continuous_usage_stats: true })
  assert.deepEqual(JSON.parse(upstreamRequestBody(req('embedding', { input: 'x' }))), { model: 'm', input: 'x' })
})

test('Ollama model names match with or without the :latest tag', () => {
  assert.equal(modelListed(['llama3.2:latest'], 'llama3.2', 'ollama'), true)
  assert.equal(modelListed(['llama3.2'], 'llama3.2:latest', 'ollama'), true)
  assert.equal(modelListed(['llama3.2:1b'], 'llama3.2', 'ollama'), false)
  assert.equal(modelListed(['llama3.2:latest'], 'llama3.2', 'openai'), false)
})

// An HTTP server answering like Ollama's /api/tags (no Ollama on these machines), behind a bearer token.
let server: http.Server
let url: string
before(async () => {
  server = http.createServer((rq, rs) => {
    if (rq.url?.startsWith('/slow')) return
    if (rq.headers.authorization !== 'Bearer s3cret') { rs.writeHead(401).end(); return }
    if (rq.url === '/api/tags') { rs.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ models: [{ name: 'llama3.2:latest', model: 'llama3.2:latest', size: 1 }, { name: 'qwen2.5:0.5b', model: 'qwen2.5:0.5b' }] })); return }
    if (rq.url === '/v1/models') { rs.writeHead(200).end('<html>not json</html>'); return }
    rs.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => { server.closeAllConnections(); server.close() })

test('Ollama: /api/tags lists the models; ModelNotFound lists what the upstream has', async () => {
  const headers = [['authorization', 'Bearer s3cret']] as const
  assert.deepEqual(await listModels({ url, api: 'ollama', headers }), ['llama3.2:latest', 'qwen2.5:0.5b'])
  assert.deepEqual(await observeUpstreamModel({ url, api: 'ollama', headers }, 'llama3.2'), { ready: true, reason: 'ModelListed', message: 'The upstream serves model llama3.2.' })
  assert.deepEqual(await observeUpstreamModel({ url, api: 'ollama', headers }, 'mistral'),
    { ready: false, reason: 'ModelNotFound', message: 'The upstream does not serve model mistral; it has: llama3.2:latest, qwen2.5:0.5b.' })
})

test('model list failures are errors that say what to do, without the secret', async () => {
  await assert.rejects(listModels({ url, api: 'ollama' }), (err: unknown) =>
    err instanceof UpstreamModelsError && /answered HTTP 401/.test(err.shortMessage) && /--upstream-header/.test(err.hint ?? ''))
  await assert.rejects(listModels({ url, api: 'openai', headers: [['authorization', 'Bearer s3cret']] }), (err: unknown) =>
    err instanceof UpstreamModelsError && /is not JSON/.test(err.shortMessage) && !err.message.includes('s3cret'))
  await assert.rejects(listModels({ url: `${url}/slow`, api: 'ollama', timeoutMs: 200 }), (err: unknown) => err instanceof UpstreamModelsError && /timed out/.test(err.shortMessage))
  const down = await observeUpstreamModel({ url: 'http://127.0.0.1:1', api: 'openai', timeoutMs: 500 }, 'm')
  assert.equal(down.ready, false)
  assert.equal(down.reason, 'UpstreamUnreachable')
  assert.match(down.message, /is not reachable/)
})
