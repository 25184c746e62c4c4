/**
 * GET /openapi.json: OpenAPI 3.1 of every published offer, one operation per route and method. Paid
 * operations carry `x-payment-info` (read by x402scan and agents) and a documented 402 response; free ones
 * carry neither. A wildcard route "/jobs/*" becomes the template "/jobs/{subpath}". Pure.
 */
import type { OperationView, ServiceView } from './serviceView.ts'

type Json = Record<string, unknown>

const PAYMENT_REQUIRED_RESPONSE: Json = {
  description: 'Payment required. The PAYMENT-REQUIRED header holds the x402 v2 challenge (base64 JSON); the body holds the same requirements in x402 v1 shape. Retry with a PAYMENT-SIGNATURE (v2) or X-PAYMENT (v1) header.',
  headers: { 'PAYMENT-REQUIRED': { description: 'base64-encoded x402 v2 PaymentRequired JSON', schema: { type: 'string' } } },
  content: { 'application/json': { schema: { type: 'object', properties: { x402Version: { type: 'integer' }, error: { type: 'string' }, accepts: { type: 'array', items: { type: 'object' } } } } } },
}

const CHAT_BODY: Json = {
  type: 'object',
  required: ['messages'],
  properties: {
    model: { type: 'string' },
    messages: { type: 'array', items: { type: 'object', properties: { role: { type: 'string' }, content: { type: 'string' } }, required: ['role', 'content'] } },
    max_tokens: { type: 'integer' },
    stream: { type: 'boolean', description: 'Stream the answer as server-sent events.' },
  },
}

function operationId(v: ServiceView, o: OperationView): string {
  const tail = o.path.slice(v.path === '/' ? 0 : v.path.length).replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')
  return [v.namespace, v.name, o.method.toLowerCase(), tail].filter(Boolean).join('_')
}

function requestBody(v: ServiceView, o: OperationView): Json | undefined {
  if (!['POST', 'PUT', 'PATCH'].includes(o.method)) return undefined
  if (v.type === 'inference' && o.path.endsWith('/chat/completions')) {
    return { required: true, content: { 'application/json': { schema: CHAT_BODY, example: { model: v.model, messages: [{ role: 'user', content: 'Hello' }] } } } }
  }
  return { required: false, content: { 'application/json': { schema: { type: 'object' } } } }
}

function toOperation(v: ServiceView, o: OperationView): Json {
  const op: Json = {
    operationId: operationId(v, o),
    summary: o.summary ?? v.description,
    tags: [v.key],
  }
  if (o.wildcard) op.parameters = [{ name: 'subpath', in: 'path', required: true, description: 'Any sub-path under this prefix.', schema: { type: 'string' } }]
  const body = requestBody(v, o)
  if (body) op.requestBody = body
  const ok: Json = { description: 'Success: the upstream response.' }
  if (o.gate === 'paid') {
    op['x-payment-info'] = {
      price: { mode: o.price.unit === 'perMTok' ? 'metered' : 'fixed', currency: v.asset.symbol, amount: o.price.decimal },
      protocols: [{ x402: {} }],
    }
    ok.headers = { 'PAYMENT-RESPONSE': { description: 'base64-encoded x402 settlement receipt (X-PAYMENT-RESPONSE for v1 payments)', schema: { type: 'string' } } }
    op.responses = { '200': ok, '402': PAYMENT_REQUIRED_RESPONSE }
  } else {
    op.responses = { '200': ok }
  }
  return op
}

export function renderOpenApi(views: readonly ServiceView[], baseUrl: string, displayName: string): string {
  const paths: Record<string, Json> = {}
  for (const v of views) {
    for (const o of v.operations) {
      const key = o.wildcard ? `${o.path.slice(0, -2)}/{subpath}` : o.path
      const item = (paths[key] ??= {})
      item[o.method.toLowerCase()] = toOperation(v, o)
    }
  }
  return JSON.stringify({
    openapi: '3.1.0',
    info: {
      title: `${displayName} API`,
      version: '1',
      description: 'Paid HTTP APIs and LLM inference. Paid operations answer 402 with x402 payment requirements; pay with any x402 client (e.g. `vend pay <url>`).',
    },
    servers: [{ url: baseUrl.replace(/\/+$/, '') || '/' }],
    tags: views.map((v) => ({ name: v.key, description: v.description })),
    paths,
  }, null, 2)
}
