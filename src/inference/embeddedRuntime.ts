/**
 * The embedded runtime: a GGUF model served inside the daemon as a small OpenAI-compatible HTTP server on
 * 127.0.0.1 (random port), so the gateway treats it like any other upstream. Surface: GET /health,
 * GET /v1/models, POST /v1/chat/completions and /v1/completions (JSON, or SSE with usage in the final chunk
 * when stream_options.include_usage is set, and on every chunk with vLLM's continuous_usage_stats),
 * POST /v1/embeddings. One request runs at a time; the others wait in order.
 */
import { randomUUID } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadLlamaModel, type PreparedPrompt } from './llamaModel.ts'
import { inferenceRoute, modelsListBody, surfaceErrorBody } from './surface.ts'
import {
  DEFAULT_MAX_INFERENCE_BODY_BYTES, invalidRequest, validateRequest,
  type ChatRequest, type CompletionRequest, type EmbeddingRequest, type InferenceRequest, type InvalidRequest,
} from './validateRequest.ts'

export { EmbeddedRuntimeError, type EmbeddedRuntimeReason } from './llamaModel.ts'

export type EmbeddedModelOptions = {
  /** Path of the .gguf file (spec.model.file). */
  file: string
  /** The model id served and required in requests (spec.model.name). */
  modelName: string
  /** CPU threads (spec.model.threads, default 1). */
  threads?: number
  contextSize?: number
}

export type EmbeddedModel = {
  /** Base URL, e.g. http://127.0.0.1:41234 (OpenAI SDK baseURL: url + '/v1'). */
  url: string
  modelName: string
  contextSize: number
  tokenize(text: string): number[]
  /** Exact prompt tokens the runtime will evaluate for a validated request (the request's cost before it runs). */
  countPromptTokens(req: InferenceRequest): number
  close(): Promise<void>
}

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number }
const usageOf = (prompt: number, completion: number): Usage => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion })

/** Load the model and serve it on 127.0.0.1:0. Throws EmbeddedRuntimeError (reason = ModelReady reason). */
export async function startEmbeddedModel(options: EmbeddedModelOptions): Promise<EmbeddedModel> {
  const model = await loadLlamaModel({
    file: options.file, threads: options.threads ?? 1,
    ...(options.contextSize !== undefined ? { contextSize: options.contextSize } : {}),
  })
  const name = options.modelName
  let queue: Promise<void> = Promise.resolve()
  const sockets = new Set<import('node:net').Socket>()

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `The model failed: ${err instanceof Error ? err.message : String(err)}`, type: 'server_error', param: null, code: null } })
      else res.destroy()
    })
  })
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const route = inferenceRoute(req.method ?? 'GET', path, '/health')
    if (route.type === 'health') return sendJson(res, 200, { status: 'ok', model: name })
    if (route.type === 'models') return sendJson(res, 200, modelsListBody(name))
    if (route.type === 'notFound') return sendJson(res, 404, surfaceErrorBody(route, path))
    if (route.type === 'methodNotAllowed') return sendJson(res, 405, surfaceErrorBody(route, path), { allow: route.allow })
    const raw = await readBody(req, DEFAULT_MAX_INFERENCE_BODY_BYTES)
    const v = raw === undefined
      ? invalidRequest(`The request body is larger than ${DEFAULT_MAX_INFERENCE_BODY_BYTES} bytes.`, null, 'request_too_large', 413)
      : validateRequest(route.kind, raw, { model: name, maxTokens: model.contextSize })
    if (!v.ok) return sendError(res, v)
    await serialised(res, () => serve(v.request, res))
  }

  /** Run one request at a time; a buyer who left while waiting is skipped. */
  function serialised(res: ServerResponse, task: () => Promise<void>): Promise<void> {
    const run = queue.then(() => (res.destroyed ? undefined : task()))
    queue = run.catch(() => undefined)
    return run
  }

  async function serve(req: InferenceRequest, res: ServerResponse): Promise<void> {
    if (req.kind === 'embedding') return serveEmbeddings(req, res)
    const prompt = model.prepare(req)
    // Without an explicit limit the runtime may fill its context, like llama.cpp's server.
    const explicit = req.body['max_tokens'] ?? req.body['max_completion_tokens']
    const maxTokens = explicit === undefined || explicit === null ? model.contextSize - prompt.promptTokens : req.maxTokens
    if (prompt.promptTokens + Math.max(maxTokens, 1) > model.contextSize) {
      return sendError(res, invalidRequest(
        `This model's maximum context length is ${model.contextSize} tokens. However, you requested ${prompt.promptTokens + Math.max(maxTokens, 1)} tokens (${prompt.promptTokens} in the ${req.kind === 'chat' ? 'messages' : 'prompt'}, ${Math.max(maxTokens, 1)} in the completion). Please reduce the length of the ${req.kind === 'chat' ? 'messages' : 'prompt'} or completion.`,
        req.kind === 'chat' ? 'messages' : 'prompt', 'context_length_exceeded'))
    }
    return req.stream ? serveStream(req, prompt, maxTokens, res) : serveJson(req, prompt, maxTokens, res)
  }

  async function serveJson(req: ChatRequest | CompletionRequest, prompt: PreparedPrompt, maxTokens: number, res: ServerResponse): Promise<void> {
    const ac = abortOnClose(res)
    const g = await model.generate(prompt, { ...sampling(req.body), maxTokens, signal: ac.signal })
    if (res.destroyed) return
    const base = { id: completionId(req), created: now(), model: name }
    const usage = usageOf(prompt.promptTokens, g.completionTokens)
    if (req.kind === 'chat') {
      sendJson(res, 200, { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: g.text }, logprobs: null, finish_reason: g.finishReason }], usage })
    } else {
      sendJson(res, 200, { ...base, object: 'text_completion', choices: [{ index: 0, text: g.text, logprobs: null, finish_reason: g.finishReason }], usage })
    }
  }

  async function serveStream(req: ChatRequest | CompletionRequest, prompt: PreparedPrompt, maxTokens: number, res: ServerResponse): Promise<void> {
    const ac = abortOnClose(res)
    const so = (req.body['stream_options'] ?? {}) as Record<string, unknown>
    const continuous = so['continuous_usage_stats'] === true
    const base = { id: completionId(req), object: req.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: now(), model: name }
    const choice = (text: string | undefined, finish: string | null) => req.kind === 'chat'
      ? { index: 0, delta: text === undefined ? {} : { content: text }, logprobs: null, finish_reason: finish }
      : { index: 0, text: text ?? '', logprobs: null, finish_reason: finish }
    let generated = 0
    const send = (chunk: Record<string, unknown>) => {
      if (!res.destroyed) res.write(`data: ${JSON.stringify(continuous ? { ...chunk, usage: usageOf(prompt.promptTokens, generated) } : chunk)}\n\n`)
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
    if (req.kind === 'chat') send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] })
    else res.flushHeaders()
    const g = await model.generate(prompt, {
      ...sampling(req.body), maxTokens, signal: ac.signal,
      onToken: (n) => { generated = n },
      onText: (text) => send({ ...base, choices: [choice(text, null)] }),
    })
    generated = g.completionTokens
    send({ ...base, choices: [choice(undefined, g.finishReason)] })
    if (req.includeUsage) send({ ...base, choices: [], usage: usageOf(prompt.promptTokens, g.completionTokens) })
    if (!res.destroyed) res.end('data: [DONE]\n\n')
  }

  async function serveEmbeddings(req: EmbeddingRequest, res: ServerResponse): Promise<void> {
    const longest = Math.max(...req.input.map((s) => model.embeddingTokens(s)))
    if (longest >= model.embeddingContextSize) {
      return sendError(res, invalidRequest(`This model's maximum embedding input is ${model.embeddingContextSize - 1} tokens, but an input has ${longest}. Please shorten it.`, 'input', 'context_length_exceeded'))
    }
    const { vectors, promptTokens } = await model.embed(req.input)
    // encoding_format "base64" (the openai SDK's default): little-endian float32 bytes.
    const base64 = req.body['encoding_format'] === 'base64'
    const encode = (v: number[]) => (base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v)
    sendJson(res, 200, {
      object: 'list', model: name,
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: encode(v) })),
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined

  return {
    url: `http://127.0.0.1:${port}`,
    modelName: name,
    contextSize: model.contextSize,
    tokenize: (text) => model.tokenize(text),
    countPromptTokens(req) {
      if (req.kind !== 'embedding') return model.prepare(req).promptTokens
      return req.input.reduce((n, s) => n + model.embeddingTokens(s), 0)
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        for (const s of sockets) s.destroy()
        await closed
        await queue
        await model.dispose()
      })()
      return closing
    },
  }
}

/** OpenAI sampling fields the runtime honours; the rest are accepted and ignored. */
function sampling(body: Record<string, unknown>): { temperature?: number; topP?: number; seed?: number; stop?: string[] } {
  const out: { temperature?: number; topP?: number; seed?: number; stop?: string[] } = {}
  if (typeof body['temperature'] === 'number') out.temperature = body['temperature']
  if (typeof body['top_p'] === 'number') out.topP = body['top_p']
  if (typeof body['seed'] === 'number' && Number.isSafeInteger(body['seed'])) out.seed = body['seed']
  const stop = body['stop']
  if (typeof stop === 'string' && stop) out.stop = [stop]
  else if (Array.isArray(stop)) out.stop = stop.filter((s): s is string => typeof s === 'string' && s.length > 0)
  return out
}

function abortOnClose(res: ServerResponse): AbortController {
  const ac = new AbortController()
  res.on('close', () => { if (!res.writableFinished) ac.abort() })
  return ac
}

function completionId(req: InferenceRequest): string {
  return `${req.kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`
}

const now = () => Math.floor(Date.now() / 1000)

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) { resolve(undefined); req.resume(); return }
      chunks.push(c)
    })
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function sendError(res: ServerResponse, v: InvalidRequest): void {
  sendJson(res, v.status, v.body)
}
