/**
 * TEST DOUBLE: an in-memory stand-in for a Kubernetes API server (there is no kube-apiserver on these machines).
 * Adapted from shared/kit/fake-apiserver.mjs. Serves any /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/status]]:
 * list (with labelSelector k=v[,k=v]), watch (JSON lines, replaying events after ?resourceVersion), get, create (409 AlreadyExists),
 * replace (409 Conflict on a stale resourceVersion), JSON merge patch, server-side apply (application/apply-patch+yaml,
 * treated as create-or-merge with the field manager recorded), the status subresource (writes to /status change only
 * status; writes to the object never change status), delete. Leases (coordination.k8s.io/v1) are just another plural.
 * resourceVersion/generation bookkeeping as the real server: generation moves only when spec changes.
 * Not a Kubernetes implementation: no admission, no schema validation, no field ownership conflicts.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parse } from 'yaml'

type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, any>; spec?: unknown; status?: unknown; [k: string]: unknown }
type Event = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: Obj; rv: number; key: string }

export type FakeApiServer = {
  url: string
  /** Every request as "METHOD path[?query] content-type". */
  requests: string[]
  /** Current objects of one plural (and namespace), sorted by name. */
  objects(plural: string, namespace?: string): Obj[]
  /** Put an object directly (as another client would), bypassing nothing but HTTP. */
  put(group: string, version: string, plural: string, namespace: string, obj: Obj): Obj
  close(): Promise<void>
}

function merge(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = merge(out[k], v)
  }
  return out
}

const matchesSelector = (o: Obj, selector: string | null) => !selector || selector.split(',').every((term) => {
  const [k, v] = term.split('=') as [string, string]
  return (o.metadata.labels ?? {})[k] === v
})

export async function startFakeApiServer(): Promise<FakeApiServer> {
  let rv = 1
  const store = new Map<string, Obj>()
  const log: Event[] = []
  const watchers = new Set<{ prefix: string; selector: string | null; res: ServerResponse }>()
  const requests: string[] = []

  const send = (res: ServerResponse, code: number, obj: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' })
    res.end(JSON.stringify(obj))
  }
  const fail = (res: ServerResponse, code: number, reason: string, message: string) =>
    send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code })

  function emit(type: Event['type'], object: Obj, key: string): void {
    const ev = { type, object, rv: Number(object.metadata.resourceVersion), key }
    log.push(ev)
    for (const w of watchers) if (key.startsWith(w.prefix) && matchesSelector(object, w.selector)) w.res.write(`${JSON.stringify({ type, object })}\n`)
  }

  function write(key: string, cur: Obj | undefined, next: Obj, sub: string | undefined): Obj {
    if (!cur) {
      next.metadata = { ...next.metadata, uid: randomUUID(), resourceVersion: String(++rv), generation: 1, creationTimestamp: new Date().toISOString() }
      delete next.status
      store.set(key, next)
      emit('ADDED', next, key)
      return next
    }
    const n: Obj = sub === 'status' ? { ...cur, status: next.status } : { ...next, status: cur.status }
    if (n.status === undefined) delete n.status
    const specChanged = JSON.stringify(n.spec) !== JSON.stringify(cur.spec)
    n.metadata = {
      ...(sub === 'status' ? cur.metadata : next.metadata), uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp,
      namespace: cur.metadata.namespace, name: cur.metadata.name,
      resourceVersion: String(++rv), generation: cur.metadata.generation + (specChanged ? 1 : 0),
    }
    store.set(key, n)
    emit('MODIFIED', n, key)
    return n
  }

  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    const ctype = String(req.headers['content-type'] ?? '').split(';')[0]
    requests.push(`${req.method} ${u.pathname}${u.search} ${ctype}`.trim())
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      const m = u.pathname.match(/^\/apis\/([^/]+)\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?(?:\/(status))?$/)
      if (!m) return fail(res, 404, 'NotFound', `the server could not find the requested resource (${u.pathname})`)
      const [, g, v, ns, plural, name, sub] = m as unknown as [string, string, string, string | undefined, string, string | undefined, string | undefined]
      const prefix = `${g}/${plural}/${ns ?? ''}/`
      const listPrefix = ns ? prefix : `${g}/${plural}/`
      const key = prefix + (name ?? '')
      if (req.method === 'GET' && !name) {
        const selector = u.searchParams.get('labelSelector')
        if (u.searchParams.get('watch') === 'true') {
          res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
          res.flushHeaders()
          const since = Number(u.searchParams.get('resourceVersion') ?? rv)
          for (const ev of log) if (ev.rv > since && ev.key.startsWith(listPrefix) && matchesSelector(ev.object, selector)) res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`)
          const w = { prefix: listPrefix, selector, res }
          watchers.add(w)
          res.on('close', () => watchers.delete(w))
          return
        }
        const items = [...store].filter(([k, o]) => k.startsWith(listPrefix) && matchesSelector(o, selector)).map(([, o]) => o)
        return send(res, 200, { apiVersion: `${g}/${v}`, kind: 'List', metadata: { resourceVersion: String(rv) }, items })
      }
      const cur = store.get(key)
      if (req.method === 'GET') return cur ? send(res, 200, cur) : fail(res, 404, 'NotFound', `${plural} "${name}" not found`)
      let inb: Obj
      try { inb = (body ? (ctype === 'application/apply-patch+yaml' ? parse(body) : JSON.parse(body)) : {}) as Obj } catch { return fail(res, 400, 'BadRequest', 'invalid body') }
      if (req.method === 'POST') {
        const k = prefix + inb.metadata.name
        if (store.has(k)) return fail(res, 409, 'AlreadyExists', `${plural} "${inb.metadata.name}" already exists`)
        return send(res, 201, write(k, undefined, { ...inb, metadata: { ...inb.metadata, namespace: ns } }, undefined))
      }
      if (req.method === 'PATCH' && ctype === 'application/apply-patch+yaml') {
        const manager = u.searchParams.get('fieldManager')
        if (!manager) return fail(res, 422, 'Invalid', 'fieldManager is required for apply patch')
        const managed = [{ manager, operation: 'Apply', apiVersion: inb.apiVersion }]
        if (!cur) return send(res, 201, write(key, undefined, { ...inb, metadata: { ...inb.metadata, namespace: ns, managedFields: managed } }, sub))
        const applied = merge(cur, inb) as Obj
        applied.metadata.labels = inb.metadata?.labels
        return send(res, 200, write(key, cur, { ...applied, metadata: { ...applied.metadata, managedFields: managed } }, sub))
      }
      if (!cur) return fail(res, 404, 'NotFound', `${plural} "${name}" not found`)
      if (req.method === 'PUT' || req.method === 'PATCH') {
        const want = inb.metadata?.resourceVersion
        if (want && want !== cur.metadata.resourceVersion) return fail(res, 409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`)
        if (req.method === 'PATCH' && ctype !== 'application/merge-patch+json') return fail(res, 415, 'UnsupportedMediaType', `the fake API server does not support ${ctype}`)
        return send(res, 200, write(key, cur, req.method === 'PUT' ? inb : merge(cur, inb) as Obj, sub))
      }
      if (req.method === 'DELETE') {
        store.delete(key)
        emit('DELETED', cur, key)
        return send(res, 200, cur)
      }
      fail(res, 405, 'MethodNotAllowed', String(req.method))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    objects: (plural, namespace) => [...store].filter(([k]) => k.split('/')[1] === plural && (namespace === undefined || k.split('/')[2] === namespace))
      .map(([, o]) => o).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)),
    put(group, _version, plural, namespace, obj) {
      const key = `${group}/${plural}/${namespace}/${obj.metadata.name}`
      return write(key, store.get(key), { ...obj, metadata: { ...obj.metadata, namespace } }, undefined)
    },
    close: () => new Promise<void>((r) => { for (const w of watchers) w.res.end(); server.closeAllConnections(); server.close(() => r()) }),
  }
}
