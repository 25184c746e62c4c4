/**
 * Inference upstreams: OpenAI-compatible servers (vLLM, llama.cpp server, LM Studio, LiteLLM, hosted APIs
 * with an auth header, Vend's embedded runtime) and Ollama (its OpenAI-compatible /v1 surface for inference,
 * /api/tags for its model list). What is inference-specific lives here: endpoint URLs, the body sent
 * upstream, the model list behind the ModelReady condition, and detection of a local server.
 */
import { BaseError, redactUrl } from '../errors/base.ts'
import type { ModelObservation } from '../reconciler/types.ts'
import { INFERENCE_ENDPOINTS, type InferenceKind, type InferenceRequest } from './validateRequest.ts'

export type UpstreamApi = 'openai' | 'ollama'

export type UpstreamTarget = {
  url: string
  api: UpstreamApi
  /** Resolved request headers, e.g. [['authorization', 'Bearer …']] (see gateway/secrets.ts). */
  headers?: readonly (readonly [string, string])[]
  timeoutMs?: number
}

export class UpstreamModelsError extends BaseError {
  override name = 'UpstreamModelsError'
}

/** The upstream URL without a trailing slash or /v1, so both "http://h:8000" and "https://api.x.com/v1" work. */
export function apiBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '')
}

/** Where to send a request of this kind (Ollama serves the same OpenAI paths under /v1). */
export function upstreamEndpoint(url: string, kind: InferenceKind): string {
  return apiBase(url) + INFERENCE_ENDPOINTS[kind]
}

export type UpstreamBodyOptions = {
  /** Also ask for usage on every chunk (vLLM and the embedded runtime), so an abandoned stream is metered exactly. */
  continuousUsage?: boolean
}

/**
 * The JSON body sent upstream: the buyer's body with the completion limit always set (the buyer's value or the
 * offer's limit, so generation can never exceed what was authorised) and, for streams, usage in the last chunk.
 */
export function upstreamRequestBody(req: InferenceRequest, options: UpstreamBodyOptions = {}): string {
  const body: Record<string, unknown> = { ...req.body, model: req.model }
  if (req.kind === 'embedding') return JSON.stringify(body)
  if (body['max_completion_tokens'] === undefined || body['max_completion_tokens'] === null) body['max_tokens'] = req.maxTokens
  if (req.stream) {
    const so = (typeof body['stream_options'] === 'object' && body['stream_options'] !== null ? body['stream_options'] : {}) as Record<string, unknown>
    body['stream_options'] = { ...so, include_usage: true, ...(options.continuousUsage ? { continuous_usage_stats: true } : {}) }
  }
  return JSON.stringify(body)
}

/** Model ids the upstream serves: GET /v1/models (OpenAI-compatible) or GET /api/tags (Ollama). */
export async function listModels(target: UpstreamTarget): Promise<string[]> {
  const url = target.api === 'ollama' ? `${apiBase(target.url)}/api/tags` : `${apiBase(target.url)}/v1/models`
  const shown = redactUrl(url)
  let res: Response
  try {
    res = await fetch(url, {
      headers: Object.fromEntries((target.headers ?? []).map(([k, v]) => [k, v])),
      signal: AbortSignal.timeout(target.timeoutMs ?? 5000),
    })
  } catch (err) {
    const why = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'is not reachable'
    throw new UpstreamModelsError(`The upstream model list at ${shown} ${why}.`, {
      cause: err, hint: 'Check that the model server is running and that upstream.url points at it.',
    })
  }
  if (!res.ok) {
    await res.body?.cancel()
    throw new UpstreamModelsError(`The upstream model list at ${shown} answered HTTP ${res.status}.`, {
      hint: res.status === 401 || res.status === 403 ? 'Set the upstream auth header (--upstream-header "Authorization=Bearer env:API_KEY").' : 'Check upstream.url and model.api (openai or ollama).',
    })
  }
  let json: unknown
  try { json = await res.json() } catch (err) {
    throw new UpstreamModelsError(`The upstream model list at ${shown} is not JSON.`, { cause: err, hint: 'Check that upstream.url points at an OpenAI-compatible or Ollama server.' })
  }
  const ids = target.api === 'ollama' ? ollamaIds(json) : openaiIds(json)
  if (!ids) throw new UpstreamModelsError(`The upstream model list at ${shown} has an unexpected shape.`, { hint: `Check model.api: this does not look like an ${target.api === 'ollama' ? 'Ollama' : 'OpenAI-compatible'} server.` })
  return ids
}

function openaiIds(json: unknown): string[] | undefined {
  const data = (json as { data?: unknown } | null)?.data
  if (!Array.isArray(data)) return undefined
  return data.flatMap((m) => (typeof (m as { id?: unknown })?.id === 'string' ? [(m as { id: string }).id] : []))
}

function ollamaIds(json: unknown): string[] | undefined {
  const models = (json as { models?: unknown } | null)?.models
  if (!Array.isArray(models)) return undefined
  return models.flatMap((m) => {
    const name = (m as { name?: unknown; model?: unknown })?.name ?? (m as { model?: unknown })?.model
    return typeof name === 'string' ? [name] : []
  })
}

/** Whether a listed id names the model; Ollama's "llama3.2" means "llama3.2:latest". */
export function modelListed(ids: readonly string[], model: string, api: UpstreamApi): boolean {
  if (ids.includes(model)) return true
  if (api !== 'ollama') return false
  const tagged = model.includes(':') ? model : `${model}:latest`
  return ids.some((id) => id === tagged || (!id.includes(':') && `${id}:latest` === tagged))
}

/** The ModelReady observation for an upstream offer: the upstream lists the model, or what it has instead. */
export async function observeUpstreamModel(target: UpstreamTarget, model: string): Promise<ModelObservation> {
  let ids: string[]
  try {
    ids = await listModels(target)
  } catch (err) {
    return { ready: false, reason: 'UpstreamUnreachable', message: err instanceof BaseError ? err.shortMessage : String(err) }
  }
  if (modelListed(ids, model, target.api)) return { ready: true, reason: 'ModelListed', message: `The upstream serves model ${model}.` }
  const has = ids.length === 0 ? 'it lists no models' : `it has: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? `, and ${ids.length - 20} more` : ''}`
  return { ready: false, reason: 'ModelNotFound', message: `The upstream does not serve model ${model}; ${has}.` }
}

export type DetectedUpstream = { url: string; api: UpstreamApi; models: string[] }

/** Ollama first, then OpenAI-compatible servers on their default ports: vLLM, llama.cpp server, LM Studio, LiteLLM. */
export const LOCAL_UPSTREAM_CANDIDATES: readonly { url: string; api: UpstreamApi }[] = [
  { url: 'http://127.0.0.1:11434', api: 'ollama' },
  { url: 'http://127.0.0.1:8000', api: 'openai' },
  { url: 'http://127.0.0.1:8080', api: 'openai' },
  { url: 'http://127.0.0.1:1234', api: 'openai' },
  { url: 'http://127.0.0.1:4000', api: 'openai' },
]

/** Probe the candidates in parallel with a short timeout; the first (in list order) that lists its models wins. */
export async function detectLocalUpstream(options: { candidates?: readonly { url: string; api: UpstreamApi }[]; timeoutMs?: number } = {}): Promise<DetectedUpstream | undefined> {
  const candidates = options.candidates ?? LOCAL_UPSTREAM_CANDIDATES
  const probes = await Promise.allSettled(candidates.map((c) => listModels({ ...c, timeoutMs: options.timeoutMs ?? 500 })))
  for (const [i, p] of probes.entries()) {
    const c = candidates[i]
    if (c && p.status === 'fulfilled') return { url: c.url, api: c.api, models: p.value }
  }
  return undefined
}
