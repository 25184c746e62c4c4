/**
 * Child-process entry for the proxy benchmarks: `upstream` (bench/lib/upstream.ts: 31-byte JSON, like
 * kit/proxy-servers.mjs, and /sse), `undici`
 * (the bare Pool.stream proxy from the kit) or `gateway` (our gateway with one free offer). Reports its port over IPC.
 * usage (forked): node --import tsx bench/lib/proxyServers.ts <kind> [upstreamUrl]
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'
import { createGateway } from '../../src/gateway/createGateway.ts'
import { routeEntry } from '../../src/gateway/testKit.ts'
import { upstreamHandler } from './upstream.ts'

const [kind, upstreamUrl = ''] = process.argv.slice(2)

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))
}

async function main(): Promise<number> {
  if (kind === 'upstream') {
    return listen(http.createServer(upstreamHandler))
  }
  if (kind === 'undici') {
    const pool = new Pool(upstreamUrl, { connections: 128 })
    const hop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host'])
    return listen(http.createServer(async (req, res) => {
      const headers: Record<string, string | string[] | undefined> = {}
      for (const [k, v] of Object.entries(req.headers)) if (!hop.has(k)) headers[k] = v
      try {
        await pool.stream({ path: req.url ?? '/', method: req.method as 'GET', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, ({ statusCode, headers: h }) => {
          const out: Record<string, string | string[]> = {}
          for (const [k, v] of Object.entries(h)) if (!hop.has(k) && v !== undefined) out[k] = v
          res.writeHead(statusCode, out)
          res.flushHeaders()
          return res
        })
      } catch {
        if (!res.headersSent) res.writeHead(502)
        res.end()
      }
    }))
  }
  if (kind === 'gateway') {
    let base = ''
    const gw = createGateway({ listen: '127.0.0.1:0', baseUrl: () => base })
    const { port } = await gw.start()
    base = `http://127.0.0.1:${port}`
    gw.setRoutes([routeEntry({ name: 'bench', upstream: upstreamUrl, routes: [{ path: '/*', gate: 'free' }] })])
    return port
  }
  throw new Error(`unknown kind ${kind}`)
}

process.on('SIGTERM', () => process.exit(0)) // exit normally (lets --cpu-prof write its profile)
// CPU time of this process, asked for around each measured run: CPU per request is robust on a busy machine.
process.on('message', (m) => { if (m === 'cpu') { const u = process.cpuUsage(); process.send?.({ cpuUs: u.user + u.system }) } })

main().then((port) => process.send?.({ port }), (err: unknown) => { console.error(err); process.exit(1) })
