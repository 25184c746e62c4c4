import { test } from 'node:test'
import assert from 'node:assert/strict'
import { validateRequest, type ValidateOptions } from './validateRequest.ts'

const offer: ValidateOptions = { model: 'qwen2.5:0.5b', maxTokens: 256 }
const chat = (body: unknown) => validateRequest('chat', JSON.stringify(body), offer)
const error = (message: string, param: string | null, code: string | null) =>
  ({ ok: false, status: 400, body: { error: { message, type: 'invalid_request_error', param, code } } })

test('a valid chat request is normalised, with the offer limit as the default max_tokens', () => {
  const r = chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi ' }, { type: 'text', text: 'there' }] }], temperature: 0.2 })
  assert.ok(r.ok)
  assert.equal(r.request.kind, 'chat')
  assert.ok(r.request.kind === 'chat')
  assert.deepEqual(r.request.messages, [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }])
  assert.equal(r.request.maxTokens, 256)
  assert.equal(r.request.stream, false)
  assert.equal(r.request.includeUsage, false)
  assert.equal(r.request.body['temperature'], 0.2)
})

test('max_tokens and max_completion_tokens up to the limit are kept; stream options are read', () => {
  const a = chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'x' }], max_tokens: 256, stream: true, stream_options: { include_usage: true } })
  assert.ok(a.ok && a.request.kind === 'chat')
  assert.equal(a.request.maxTokens, 256)
  assert.equal(a.request.stream, true)
  assert.equal(a.request.includeUsage, true)
  const b = chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 7 })
  assert.ok(b.ok && b.request.kind === 'chat')
  assert.equal(b.request.maxTokens, 7)
})

test('a wrong model is a 400 naming the offer model', () => {
  assert.deepEqual(chat({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    error('The model "gpt-4o" is not served here; this offer serves "qwen2.5:0.5b".', 'model', 'model_not_found'))
  assert.deepEqual(chat({ messages: [{ role: 'user', content: 'hi' }] }),
    error('You must provide a model parameter; this offer serves "qwen2.5:0.5b".', 'model', 'missing_required_parameter'))
})

test('malformed JSON and non-object bodies are 400s', () => {
  assert.deepEqual(validateRequest('chat', '{"model": "qwen2.5:0.5b", "messages": [', offer),
    error('We could not parse the JSON body of your request. Send a JSON object with Content-Type: application/json.', null, 'invalid_json'))
  assert.deepEqual(validateRequest('chat', Buffer.from('[1,2]'), offer), error('The request body must be a JSON object.', null, 'invalid_type'))
  assert.deepEqual(validateRequest('chat', '', offer), error('We could not parse the JSON body of your request. Send a JSON object with Content-Type: application/json.', null, 'invalid_json'))
})

test('oversized max_tokens is a 400 saying the limit', () => {
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 257 }),
    error('max_tokens is 257, but this offer allows at most 256 tokens per request.', 'max_tokens', 'max_tokens_too_large'))
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 100000 }),
    error('max_completion_tokens is 100000, but this offer allows at most 256 tokens per request.', 'max_completion_tokens', 'max_tokens_too_large'))
  for (const bad of [0, -1, 1.5, '10', 1e300]) {
    assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'hi' }], max_tokens: bad }),
      error('max_tokens must be a positive integer.', 'max_tokens', 'invalid_type'), String(bad))
  }
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, max_completion_tokens: 5 }),
    error('Set max_completion_tokens or max_tokens, not both.', 'max_tokens', 'invalid_value'))
})

test('missing or malformed messages are 400s', () => {
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b' }),
    error('You must provide a messages parameter: an array of {role, content} objects.', 'messages', 'missing_required_parameter'))
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [] }),
    error('messages must be a non-empty array of {role, content} objects.', 'messages', 'invalid_type'))
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'wizard', content: 'hi' }] }),
    error('messages[0].role must be one of system, developer, user, assistant, tool.', 'messages[0].role', 'invalid_value'))
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'a' }, { role: 'user' }] }),
    error('messages[1].content must be a string or an array of {type: "text", text} parts (other content types are not supported).', 'messages[1].content', 'invalid_type'))
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }),
    error('messages[0].content must be a string or an array of {type: "text", text} parts (other content types are not supported).', 'messages[0].content', 'invalid_type'))
  const assistantNull = chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: null }] })
  assert.equal(assistantNull.ok, true)
})

test('stream and n are checked', () => {
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'a' }], stream: 'yes' }), error('stream must be a boolean.', 'stream', 'invalid_type'))
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'a' }], stream_options: { include_usage: true } }),
    error('The stream_options parameter is only allowed when stream is true.', 'stream_options', 'invalid_value'))
  assert.deepEqual(chat({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'a' }], n: 3 }), error('n must be 1: one completion per request.', 'n', 'invalid_value'))
})

test('completions need one string prompt; embeddings a string or strings', () => {
  const c = validateRequest('completion', JSON.stringify({ model: 'qwen2.5:0.5b', prompt: ['once upon'], max_tokens: 3 }), offer)
  assert.ok(c.ok && c.request.kind === 'completion')
  assert.equal(c.request.prompt, 'once upon')
  assert.equal(c.request.maxTokens, 3)
  assert.deepEqual(validateRequest('completion', JSON.stringify({ model: 'qwen2.5:0.5b', prompt: [1, 2, 3] }), offer),
    error('prompt must be a string (token arrays are not supported).', 'prompt', 'invalid_type'))
  assert.deepEqual(validateRequest('completion', JSON.stringify({ model: 'qwen2.5:0.5b', prompt: ['a', 'b'] }), offer), error('Send one prompt per request.', 'prompt', 'invalid_value'))
  const e = validateRequest('embedding', JSON.stringify({ model: 'qwen2.5:0.5b', input: ['a', 'b'] }), offer)
  assert.ok(e.ok && e.request.kind === 'embedding')
  assert.deepEqual(e.request.input, ['a', 'b'])
  assert.deepEqual(validateRequest('embedding', JSON.stringify({ model: 'qwen2.5:0.5b' }), offer),
    error('input must be a string or a non-empty array of strings.', 'input', 'missing_required_parameter'))
})

test('a body over the size cap is a 413 before it is parsed', () => {
  const r = validateRequest('chat', `{"model":"qwen2.5:0.5b","messages":[{"role":"user","content":"${'x'.repeat(2000)}"}]}`, { ...offer, maxBodyBytes: 1000 })
  assert.equal(r.ok, false)
  assert.ok(!r.ok)
  assert.equal(r.status, 413)
  assert.equal(r.body.error.code, 'request_too_large')
})
