/**
 * Validation of OpenAI-style inference request bodies, before any payment is asked for: a malformed body, a
 * model other than the offer's or a max_tokens above the offer's limit gets a 400 in OpenAI's error shape,
 * never a 402. A valid body becomes a typed, normalised request whose max_tokens is always set (the offer's
 * limit when the buyer gives none), so the maximum price and the upstream call agree.
 */

export type InferenceKind = 'chat' | 'completion' | 'embedding'

/** Paths of the paid OpenAI-compatible endpoints (relative to the offer path, and on the upstream). */
export const INFERENCE_ENDPOINTS: Readonly<Record<InferenceKind, string>> = {
  chat: '/v1/chat/completions',
  completion: '/v1/completions',
  embedding: '/v1/embeddings',
}

/** The endpoint a path names, if any. */
export function inferenceKind(path: string): InferenceKind | undefined {
  for (const kind of ['chat', 'completion', 'embedding'] as const) if (INFERENCE_ENDPOINTS[kind] === path) return kind
  return undefined
}

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool'
export type ChatMessage = { role: ChatRole; content: string; name?: string }

type Common = {
  model: string
  /** The parsed body as the buyer sent it (other fields such as temperature pass through to the upstream). */
  body: Record<string, unknown>
}
export type ChatRequest = Common & {
  kind: 'chat'
  messages: ChatMessage[]
  stream: boolean
  /** The buyer asked for a usage chunk at the end of the stream (stream_options.include_usage). */
  includeUsage: boolean
  /** Effective completion limit: the buyer's max_tokens/max_completion_tokens, or the offer's limit. */
  maxTokens: number
  /** Size in UTF-8 bytes of tools/functions/response_format definitions, which templates put in the prompt. */
  extraPromptBytes: number
}
export type CompletionRequest = Common & { kind: 'completion'; prompt: string; stream: boolean; includeUsage: boolean; maxTokens: number }
export type EmbeddingRequest = Common & { kind: 'embedding'; input: string[] }
export type InferenceRequest = ChatRequest | CompletionRequest | EmbeddingRequest

/** OpenAI's error body: https://platform.openai.com/docs/guides/error-codes */
export type OpenAIErrorBody = {
  error: { message: string; type: 'invalid_request_error'; param: string | null; code: string | null }
}
export type InvalidRequest = { ok: false; status: 400 | 413; body: OpenAIErrorBody }
export type ValidationResult<R extends InferenceRequest = InferenceRequest> = { ok: true; request: R } | InvalidRequest

export type ValidateOptions = {
  /** The offer's model id (spec.model.name): the only model accepted. */
  model: string
  /** The offer's limit on max_tokens (spec.model.maxTokens); also the default. */
  maxTokens: number
  /** Largest body accepted (default 1 MiB). */
  maxBodyBytes?: number
}

export const DEFAULT_MAX_INFERENCE_BODY_BYTES = 1024 * 1024

const ROLES: ReadonlySet<string> = new Set(['system', 'developer', 'user', 'assistant', 'tool'])

export function invalidRequest(message: string, param: string | null, code: string | null, status: 400 | 413 = 400): InvalidRequest {
  return { ok: false, status, body: { error: { message, type: 'invalid_request_error', param, code } } }
}

/** Parse and check one request body for the given endpoint. Never throws. */
export function validateRequest(kind: InferenceKind, raw: Buffer | string, options: ValidateOptions): ValidationResult {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_INFERENCE_BODY_BYTES
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
  if (size > limit) return invalidRequest(`The request body is ${size} bytes; the limit is ${limit} bytes.`, null, 'request_too_large', 413)

  let body: unknown
  try {
    body = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'))
  } catch {
    return invalidRequest('We could not parse the JSON body of your request. Send a JSON object with Content-Type: application/json.', null, 'invalid_json')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalidRequest('The request body must be a JSON object.', null, 'invalid_type')
  }
  const b = body as Record<string, unknown>

  if (b['model'] === undefined) return invalidRequest(`You must provide a model parameter; this offer serves "${options.model}".`, 'model', 'missing_required_parameter')
  if (b['model'] !== options.model) {
    const given = typeof b['model'] === 'string' ? `"${b['model']}"` : 'that value'
    return invalidRequest(`The model ${given} is not served here; this offer serves "${options.model}".`, 'model', 'model_not_found')
  }
  const common = { model: options.model, body: b }

  if (kind === 'embedding') {
    const input = stringList(b['input'])
    if (!input) return invalidRequest('input must be a string or a non-empty array of strings.', 'input', b['input'] === undefined ? 'missing_required_parameter' : 'invalid_type')
    return { ok: true, request: { kind, ...common, input } }
  }

  for (const name of ['n', 'best_of'] as const) {
    if (b[name] !== undefined && b[name] !== null && b[name] !== 1) return invalidRequest(`${name} must be 1: one completion per request.`, name, 'invalid_value')
  }
  const stream = b['stream'] ?? false
  if (typeof stream !== 'boolean') return invalidRequest('stream must be a boolean.', 'stream', 'invalid_type')
  const so = b['stream_options']
  let includeUsage = false
  if (so !== undefined && so !== null) {
    if (!stream) return invalidRequest('The stream_options parameter is only allowed when stream is true.', 'stream_options', 'invalid_value')
    if (typeof so !== 'object' || Array.isArray(so)) return invalidRequest('stream_options must be an object.', 'stream_options', 'invalid_type')
    const iu = (so as Record<string, unknown>)['include_usage']
    if (iu !== undefined && typeof iu !== 'boolean') return invalidRequest('stream_options.include_usage must be a boolean.', 'stream_options.include_usage', 'invalid_type')
    includeUsage = iu === true
  }
  const max = maxTokensOf(kind, b, options.maxTokens)
  if (!max.ok) return max

  if (kind === 'completion') {
    const prompts = stringList(b['prompt'])
    if (!prompts) return invalidRequest('prompt must be a string (token arrays are not supported).', 'prompt', b['prompt'] === undefined ? 'missing_required_parameter' : 'invalid_type')
    if (prompts.length !== 1) return invalidRequest('Send one prompt per request.', 'prompt', 'invalid_value')
    return { ok: true, request: { kind, ...common, prompt: prompts[0] as string, stream, includeUsage, maxTokens: max.value } }
  }

  const msgs = b['messages']
  if (msgs === undefined) return invalidRequest('You must provide a messages parameter: an array of {role, content} objects.', 'messages', 'missing_required_parameter')
  if (!Array.isArray(msgs) || msgs.length === 0) return invalidRequest('messages must be a non-empty array of {role, content} objects.', 'messages', 'invalid_type')
  const messages: ChatMessage[] = []
  for (const [i, m] of msgs.entries()) {
    const checked = chatMessage(m, i)
    if (!checked.ok) return checked
    messages.push(checked.message)
  }
  let extraPromptBytes = 0
  for (const k of ['tools', 'functions', 'response_format', 'tool_choice']) {
    if (b[k] !== undefined && b[k] !== null) extraPromptBytes += Buffer.byteLength(JSON.stringify(b[k]))
  }
  return { ok: true, request: { kind, ...common, messages, stream, includeUsage, maxTokens: max.value, extraPromptBytes } }
}

function maxTokensOf(kind: 'chat' | 'completion', b: Record<string, unknown>, limit: number): { ok: true; value: number } | InvalidRequest {
  const names = kind === 'chat' ? ['max_completion_tokens', 'max_tokens'] : ['max_tokens']
  const given = names.filter((n) => b[n] !== undefined && b[n] !== null)
  if (given.length > 1) return invalidRequest('Set max_completion_tokens or max_tokens, not both.', 'max_tokens', 'invalid_value')
  const name = given[0]
  if (name === undefined) return { ok: true, value: limit }
  const v = b[name]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) return invalidRequest(`${name} must be a positive integer.`, name, 'invalid_type')
  if (v > limit) return invalidRequest(`${name} is ${v}, but this offer allows at most ${limit} tokens per request.`, name, 'max_tokens_too_large')
  return { ok: true, value: v }
}

function chatMessage(m: unknown, i: number): { ok: true; message: ChatMessage } | InvalidRequest {
  const at = `messages[${i}]`
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return invalidRequest(`${at} must be an object with role and content.`, at, 'invalid_type')
  const { role, content, name } = m as Record<string, unknown>
  if (typeof role !== 'string' || !ROLES.has(role)) return invalidRequest(`${at}.role must be one of system, developer, user, assistant, tool.`, `${at}.role`, 'invalid_value')
  if (name !== undefined && typeof name !== 'string') return invalidRequest(`${at}.name must be a string.`, `${at}.name`, 'invalid_type')
  const text = contentText(content, role === 'assistant')
  if (text === undefined) {
    return invalidRequest(`${at}.content must be a string or an array of {type: "text", text} parts (other content types are not supported).`, `${at}.content`, 'invalid_type')
  }
  const message: ChatMessage = { role: role as ChatRole, content: text }
  if (name !== undefined) message.name = name
  return { ok: true, message }
}

/** A message's text: a string, or the concatenated text parts. Assistant messages may have null content. */
function contentText(content: unknown, nullable: boolean): string | undefined {
  if (typeof content === 'string') return content
  if (content === null && nullable) return ''
  if (!Array.isArray(content)) return undefined
  let text = ''
  for (const part of content) {
    if (typeof part !== 'object' || part === null) return undefined
    const p = part as Record<string, unknown>
    if (p['type'] !== 'text' || typeof p['text'] !== 'string') return undefined
    text += p['text']
  }
  return text
}

function stringList(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v]
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[]
  return undefined
}
