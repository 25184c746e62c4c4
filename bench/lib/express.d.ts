// Minimal typing for the express 5 surface the paid baseline uses (no @types/express installed).
declare module 'express' {
  import type { IncomingMessage, Server, ServerResponse } from 'node:http'
  type Handler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void
  type App = { use(h: unknown): void; get(path: string, h: Handler): void; listen(port: number, host: string, cb: () => void): Server }
  function express(): App
  export default express
}
