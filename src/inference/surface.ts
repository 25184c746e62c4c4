/**
 * The public surface of an inference offer, relative to its path: POST /v1/chat/completions, /v1/completions
 * and /v1/embeddings are paid; GET /v1/models (answered by the gateway: the offer's model only) and the health
 * path are free; anything else is a 404 in OpenAI's error shape.
 */
import { inferenceKind, type InferenceKind } from './validateRequest.ts'
import type { UpstreamApi } from './upstream.ts'

export type InferenceRoute =
  | { type: 'paid'; kind: InferenceKind }
  | { type: 'models' }
  | { type: 'health' }
  | { type: 'methodNotAllowed'; allow: 'GET' | 'POST' }
  | { type: 'notFound' }

export const MODELS_PATH = '/v1/models'

/** What a request to `relativePath` (path below the offer path, without query) is. */
export function inferenceRoute(method: string, relativePath: string, healthPath: string): InferenceRoute {
  const kind = inferenceKind(relativePath)
  const read = method === 'GET' || method === 'HEAD'
  if (kind) return method === 'POST' ? { type: 'paid', kind } : { type: 'methodNotAllowed', allow: 'POST' }
  if (relativePath === MODELS_PATH) return read ? { type: 'models' } : { type: 'methodNotAllowed', allow: 'GET' }
  if (relativePath === healthPath) return read ? { type: 'health' } : { type: 'methodNotAllowed', allow: 'GET' }
  return { type: 'notFound' }
}

/** GET /v1/models body: the offer's model, whatever else the upstream serves. */
export function modelsListBody(model: string): { object: 'list'; data: { id: string; object: 'model'; created: number; owned_by: string }[] } {
  return { object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: 'vend' }] }
}

/** 404/405 bodies in OpenAI's error shape. */
export function surfaceErrorBody(route: Extract<InferenceRoute, { type: 'notFound' | 'methodNotAllowed' }>, relativePath: string) {
  return route.type === 'notFound'
    ? { error: { message: `Unknown path ${relativePath}: this offer serves POST /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models.`, type: 'invalid_request_error', param: null, code: 'not_found' } }
    : { error: { message: `Use ${route.allow} for ${relativePath}.`, type: 'invalid_request_error', param: null, code: 'method_not_allowed' } }
}

/**
 * Health path to probe on an upstream when the offer does not set one: every OpenAI-compatible server (vLLM,
 * llama.cpp, LM Studio, LiteLLM, hosted APIs) answers GET /v1/models, while /health is not universal; Ollama
 * answers /api/tags. The embedded runtime answers /health.
 */
export function defaultHealthPath(api: UpstreamApi): string {
  return api === 'ollama' ? '/api/tags' : MODELS_PATH
}
