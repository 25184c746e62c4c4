import { test } from 'node:test'
import assert from 'node:assert/strict'
import { defaultHealthPath, inferenceRoute, modelsListBody, surfaceErrorBody } from './surface.ts'

test('paid endpoints, free model list and health, 404 and 405 for the rest', () => {
  assert.deepEqual(inferenceRoute('POST', '/v1/chat/completions', '/health'), { type: 'paid', kind: 'chat' })
  assert.deepEqual(inferenceRoute('POST', '/v1/completions', '/health'), { type: 'paid', kind: 'completion' })
  assert.deepEqual(inferenceRoute('POST', '/v1/embeddings', '/health'), { type: 'paid', kind: 'embedding' })
  assert.deepEqual(inferenceRoute('GET', '/v1/chat/completions', '/health'), { type: 'methodNotAllowed', allow: 'POST' })
  assert.deepEqual(inferenceRoute('GET', '/v1/models', '/health'), { type: 'models' })
  assert.deepEqual(inferenceRoute('HEAD', '/health', '/health'), { type: 'health' })
  assert.deepEqual(inferenceRoute('POST', '/health', '/health'), { type: 'methodNotAllowed', allow: 'GET' })
  for (const p of ['/', '/v1', '/v1/chat', '/v1/chat/completions/x', '/v2/chat/completions', '/api/tags']) {
    assert.deepEqual(inferenceRoute('POST', p, '/health'), { type: 'notFound' }, p)
  }
  assert.equal(surfaceErrorBody({ type: 'notFound' }, '/v1/chat').error.code, 'not_found')
  assert.equal(surfaceErrorBody({ type: 'methodNotAllowed', allow: 'POST' }, '/v1/completions').error.message, 'Use POST for /v1/completions.')
})

test('the model list names only the offer model; health paths by upstream flavour', () => {
  assert.deepEqual(modelsListBody('qwen2.5:0.5b').data.map((m) => m.id), ['qwen2.5:0.5b'])
  assert.equal(defaultHealthPath('ollama'), '/api/tags')
  assert.equal(defaultHealthPath('openai'), '/v1/models')
})
