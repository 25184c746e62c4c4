/** The benchmark upstream: `/…/sse` = 5 SSE events 100 ms apart (like kit/proxy-servers.mjs), anything else a 31-byte JSON. */
import type { IncomingMessage, ServerResponse } from 'node:http'

export function upstreamHandler(req: IncomingMessage, res: ServerResponse): void {
  if ((req.url ?? '').endsWith('/sse')) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    let n = 0
    const tick = () => {
      res.write(`data: {"n":${n}}\n\n`)
      if (++n === 5) res.end()
      else setTimeout(tick, 100)
    }
    tick()
    return
  }
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end('{"ok":true,"msg":"hello world"}')
}
