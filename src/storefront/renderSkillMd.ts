/**
 * GET /skill.md: the catalog as a markdown skill for LLM agents: how to pay with x402, a table of services,
 * then per service the endpoint, call shape, price and a "Try it" block. Pure.
 */
import { curlExample, vendPayExample } from './examples.ts'
import type { OperationView, ServiceView } from './serviceView.ts'

/** Offer text inside markdown: one line, no table breaks, no raw HTML. */
function md(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A value inside a `code span`: backticks cannot close it early. */
function code(text: string): string {
  const t = text.replace(/\s+/g, ' ')
  return t.includes('`') ? `\`\` ${t} \`\`` : `\`${t}\``
}

function anchor(v: ServiceView): string {
  return `${v.namespace}-${v.name}`
}

function status(v: ServiceView): string {
  const parts = [v.drainEndsAt ? `draining · ends ${code(v.drainEndsAt)}` : 'available']
  if (v.registrationPending) parts.push('registration pending')
  return parts.join(' · ')
}

function paymentLine(v: ServiceView): string {
  return `${md(v.price.label)} on ${code(v.network)} (${v.caip2}) — pay to ${code(v.payTo)}; token ${code(v.asset.address)} (${md(v.asset.symbol)}, ${v.asset.decimals} decimals, ${v.asset.transferMethod}, EIP-712 domain name ${code(v.asset.eip712Name)} version ${code(v.asset.eip712Version)})`
}

function routeLine(o: OperationView): string {
  const price = o.gate === 'paid' ? md(o.price.label) : 'free'
  return `  - \`${o.method} ${o.wildcard ? o.url + '*' : o.url}\` — ${price}${o.summary ? ` — ${md(o.summary)}` : ''}`
}

function details(v: ServiceView): string {
  const target = { method: v.primary.method, url: v.primary.url, type: v.type, model: v.model }
  const lines = [`### ${md(v.name)}`, '', `- **Endpoint**: \`${v.endpoint}\``]
  if (v.type === 'inference') {
    lines.push(`- **Call**: \`POST ${v.endpoint}/v1/chat/completions\` — OpenAI-compatible chat completions (supports \`"stream": true\`); also \`POST ${v.endpoint}/v1/completions\` and \`POST ${v.endpoint}/v1/embeddings\``)
    if (v.model) lines.push(`- **Model**: ${code(v.model)}`)
  } else {
    lines.push(v.explicitRoutes
      ? `- **Call**: \`${v.primary.method} ${v.primary.url}\` (HTTP API; see the routes below)`
      : `- **Call**: \`${v.primary.method} ${v.primary.url}\` (HTTP API; any method, and any sub-path and query string under the endpoint, is passed to the service)`)
  }
  lines.push(`- **Type**: ${v.type}`, `- **Payment**: ${paymentLine(v)}`)
  if (v.explicitRoutes) {
    lines.push('- **Routes** (paths outside this list are not served):', ...v.operations.map(routeLine))
  }
  if (v.drainEndsAt) lines.push(`- **Drain ends at**: ${code(v.drainEndsAt)} (the service stops after this time)`)
  if (v.agentId !== undefined) lines.push(`- **Agent identity**: ERC-8004 agent #${md(v.agentId)} on \`${v.network}\``)
  if (v.registrationPending) lines.push('- **Registration**: on-chain ERC-8004 registration pending (the service is usable)')
  lines.push(`- **Description**: ${md(v.description)}`, '', '#### Try it', '', '```sh',
    `# 1. without payment: HTTP 402 with the PAYMENT-REQUIRED header (base64 JSON requirements)`,
    curlExample(target),
    `# 2. pay with x402 and call (signs an EIP-3009 authorisation; prints the response and the receipt)`,
    vendPayExample(target), '```', '')
  return lines.join('\n')
}

export function renderSkillMd(views: readonly ServiceView[], baseUrl: string, displayName: string): string {
  const base = baseUrl.replace(/\/+$/, '')
  const out = [
    `# ${md(displayName)} Service Catalog`, '',
    `> Generated from ${views.length} ready service offer(s). Every service below is gated by [x402](https://www.x402.org) micropayments — no API key, no signup, no subscription.`, '',
    `> **Machine-readable:** OpenAPI 3.1 at [\`${base}/openapi.json\`](${base}/openapi.json) · catalog feed at [\`${base}/api/services.json\`](${base}/api/services.json) · x402 resources at [\`${base}/.well-known/x402\`](${base}/.well-known/x402) · agent identity at [\`${base}/.well-known/agent-registration.json\`](${base}/.well-known/agent-registration.json).`, '',
    '## How to pay (x402)', '',
    '1. Call the endpoint without payment. The answer is `402 Payment Required` with a `PAYMENT-REQUIRED` header: base64 JSON `{x402Version: 2, resource, accepts: [...]}`. The JSON body carries the same requirements in x402 v1 shape (`maxAmountRequired`).',
    '2. Pick one `accepts` entry: `scheme` (`exact`), `network` (CAIP-2, e.g. `eip155:8453`), `asset` (token address), `amount` (atomic units, exact), `payTo`, `maxTimeoutSeconds`, `extra` (the token\'s EIP-712 domain `name` and `version`).',
    '3. Sign an EIP-3009 `TransferWithAuthorization` for exactly `amount` to `payTo` with the token\'s EIP-712 domain. No gas is needed: the seller settles on chain.',
    '4. Retry the same request with the header `PAYMENT-SIGNATURE: <base64 PaymentPayload>` (x402 v2), or `X-PAYMENT: <base64 payload>` (x402 v1 clients).',
    '5. A successful call answers `200` with the receipt in `PAYMENT-RESPONSE` (v2) or `X-PAYMENT-RESPONSE` (v1): `{success, transaction, network, payer}`. For streamed chat (`"stream": true`) the receipt arrives as a trailer and a final SSE comment.',
    '',
    'Any x402 client works: `vend pay <url>`, `@x402/fetch` (`wrapFetchWithPayment`), or `x402-fetch` 1.x. Each paid operation in `openapi.json` has an `x-payment-info` price.', '',
    '## Services', '',
  ]
  if (views.length === 0) {
    out.push('**No services currently available.**', '')
    return out.join('\n')
  }
  out.push('| Service | Type | Model | Price | Network | Status | Endpoint |', '|---|---|---|---|---|---|---|')
  for (const v of views) {
    out.push(`| [${md(v.name)}](#${anchor(v)}) | ${v.type} | ${v.model ? md(v.model) : '—'} | ${md(v.price.label)} | ${v.network} | ${status(v)} | \`${v.endpoint}\` |`)
  }
  out.push('', '## Service details', '')
  for (const v of views) out.push(`<a id="${anchor(v)}"></a>`, '', details(v))
  return out.join('\n')
}
