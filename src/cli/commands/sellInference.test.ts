import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { InvalidInputError } from '../../errors/base.ts'
import { chooseLocalUpstream } from './sellInference.ts'

/** A real OpenAI-compatible model list on a loopback port. */
async function modelServer(ids: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/v1/models') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: ids.map((id) => ({ id, object: 'model' })) }))
    else res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) }
}

async function closedPort(): Promise<string> {
  const s = await modelServer([])
  await s.close()
  return s.url
}

test('no --upstream or --model-file: the first local server that lists models is chosen and the choice printed', async () => {
  const srv = await modelServer(['qwen', 'tiny'])
  try {
    const err: string[] = []
    const choice = await chooseLocalUpstream({ err: (t) => err.push(t) }, 'tiny', [{ url: await closedPort(), api: 'ollama' }, { url: srv.url, api: 'openai' }])
    assert.deepEqual(choice, { url: srv.url, api: 'openai' })
    assert.deepEqual(err, [`Using the OpenAI-compatible server at ${srv.url} as upstream; it lists qwen, tiny.`])
    const missing: string[] = []
    await chooseLocalUpstream({ err: (t) => missing.push(t) }, 'llama3.2', [{ url: srv.url, api: 'openai' }])
    assert.match(missing[1] ?? '', /does not list model llama3\.2 yet/)
  } finally { await srv.close() }
})

test('no local server: a clear error naming where it looked and what to pass', async () => {
  const url = await closedPort()
  await assert.rejects(chooseLocalUpstream({ err: () => {} }, 'tiny', [{ url, api: 'ollama' }]),
    (e: unknown) => e instanceof InvalidInputError && e.message.includes(url) && /--upstream <url> or --model-file/.test(e.hint ?? ''))
})
