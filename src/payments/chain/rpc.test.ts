import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startServer } from '../../gateway/testKit.ts'
import { createRpcClient, RpcError } from './rpc.ts'

/** A JSON-RPC endpoint: eth_blockNumber answers, anything else is a JSON-RPC error; counts HTTP requests. */
async function endpoint(opts: { batches: boolean }) {
  const bodies: unknown[] = []
  const answer = (c: { id: number; method: string }) => (c.method === 'eth_blockNumber'
    ? { jsonrpc: '2.0', id: c.id, result: '0x10' }
    : { jsonrpc: '2.0', id: c.id, error: { code: -32601, message: `method ${c.method} not found` } })
  const srv = await startServer((req, res) => {
    let text = ''
    req.on('data', (d: Buffer) => { text += d })
    req.on('end', () => {
      const body = JSON.parse(text) as { id: number; method: string } | { id: number; method: string }[]
      bodies.push(body)
      res.writeHead(200, { 'content-type': 'application/json' })
      if (Array.isArray(body)) res.end(JSON.stringify(opts.batches ? body.map(answer) : { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'batch requests are not supported' } }))
      else res.end(JSON.stringify(answer(body)))
    })
  })
  return { ...srv, bodies }
}

test('calls made together go out as one batch; each gets its own result or error', async () => {
  const srv = await endpoint({ batches: true })
  const rpc = createRpcClient(srv.url, { maxBatch: 4 })
  try {
    const calls = Array.from({ length: 6 }, (_, i) => rpc.call(i === 2 ? 'eth_nope' : 'eth_blockNumber').then((v) => v, (e: unknown) => e))
    const out = await Promise.all(calls)
    assert.deepEqual(out.map((v) => (v instanceof RpcError ? 'error' : v)), ['0x10', '0x10', 'error', '0x10', '0x10', '0x10'])
    assert.match((out[2] as RpcError).message, /eth_nope not found/)
    assert.deepEqual(srv.bodies.map((b) => (Array.isArray(b) ? b.length : 1)), [4, 2], 'two HTTP requests: a batch of 4 (the cap) and one of 2')
    assert.equal(await rpc.call('eth_blockNumber'), '0x10')
    assert.equal(Array.isArray(srv.bodies.at(-1)), false, 'a lone call is sent as a plain request')
  } finally { await rpc.close(); await srv.close() }
})

test('an endpoint without batch support gets every call on its own, and the calls still succeed', async () => {
  const srv = await endpoint({ batches: false })
  const rpc = createRpcClient(srv.url)
  try {
    assert.deepEqual(await Promise.all([rpc.call('eth_blockNumber'), rpc.call('eth_blockNumber')]), ['0x10', '0x10'])
    assert.deepEqual(await Promise.all([rpc.call('eth_blockNumber'), rpc.call('eth_blockNumber')]), ['0x10', '0x10'])
    assert.deepEqual(srv.bodies.map((b) => (Array.isArray(b) ? 'batch' : 'single')), ['batch', 'single', 'single', 'single', 'single'])
  } finally { await rpc.close(); await srv.close() }
})
