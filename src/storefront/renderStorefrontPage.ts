/**
 * GET /: the public storefront, server-rendered HTML. One card per published offer with its price in
 * human units, network, endpoint, badges (registration pending, draining) and copyable curl / `vend pay`
 * commands. Every offer-provided string goes through escapeHtml. Pure.
 */
import { curlExample, vendPayExample } from './examples.ts'
import { escapeHtml as e, page, snippet } from './html.ts'
import type { ServiceView } from './serviceView.ts'

function badges(v: ServiceView): string {
  const out = [`<span class="badge">${v.type === 'inference' ? 'LLM inference' : 'HTTP API'}</span>`]
  if (v.testnet) out.push('<span class="badge info">testnet</span>')
  if (v.agentId !== undefined) out.push(`<span class="badge ok" title="Registered in the ERC-8004 Identity Registry on ${e(v.network)}.">ERC-8004 agent #${e(v.agentId)}</span>`)
  if (v.registrationPending) out.push('<span class="badge info" title="On-chain ERC-8004 registration has not completed yet; the service is usable.">registration pending</span>')
  if (v.drainEndsAt) out.push(`<span class="badge warn" title="This service is being retired.">draining until ${e(v.drainEndsAt)}</span>`)
  return out.join('')
}

function routesTable(v: ServiceView): string {
  if (!v.explicitRoutes) return ''
  const rows = v.operations.map((o) => `<tr><td><code>${e(o.method)}</code></td><td><code>${e(o.path)}</code></td><td>${o.gate === 'paid' ? e(o.price.label) : 'free'}</td><td>${e(o.summary ?? '')}</td></tr>`)
  return `<h3>Routes</h3><div class="scroll"><table class="routes"><thead><tr><th>Method</th><th>Path</th><th>Price</th><th>Description</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`
}

function card(v: ServiceView, i: number): string {
  const target = { method: v.primary.method, url: v.primary.url, type: v.type, model: v.model }
  const facts = [
    ['Network', `${e(v.network)} <span class="muted">(${e(v.caip2)})</span>`],
    ['Endpoint', `<code>${e(v.endpoint)}</code>`],
    ...(v.type === 'inference' ? [['Call', `<code>POST ${e(v.endpoint)}/v1/chat/completions</code> (OpenAI-compatible, streaming)`]] : []),
    ...(v.model ? [['Model', `<code>${e(v.model)}</code>`]] : []),
    ['Token', `${e(v.asset.symbol)} <code>${e(v.asset.address)}</code>`],
    ['Pay to', `<code>${e(v.payTo)}</code>`],
  ]
  return `<article class="card" id="${e(`${v.namespace}-${v.name}`)}">
<div class="head"><div><h2>${e(v.name)}</h2><div class="badges">${badges(v)}</div></div>
<div class="price"><strong>${e(v.price.amount)}</strong><span>per ${v.price.unit === 'perMTok' ? 'million tokens' : 'request'}</span></div></div>
<p class="desc">${e(v.description)}</p>
<dl class="facts">${facts.map(([k, val]) => `<dt>${k}</dt><dd>${val}</dd>`).join('')}</dl>
${routesTable(v)}<h3>Try it</h3>
${snippet(`c${i}`, 'See the price (HTTP 402 with the x402 requirements)', curlExample(target))}
${snippet(`p${i}`, 'Pay and call', vendPayExample(target))}
</article>`
}

export function renderStorefrontPage(views: readonly ServiceView[], displayName: string): string {
  const header = `<header class="top"><div class="wrap"><h1>${e(displayName)}</h1>
<p>Paid APIs and LLM inference. Pay per call with <a class="plain" href="https://www.x402.org">x402</a> stablecoin micropayments: no API key, no signup.</p>
<nav><a href="/api/services.json">services.json</a><a href="/skill.md">skill.md (for agents)</a><a href="/openapi.json">OpenAPI</a><a href="/.well-known/x402">.well-known/x402</a></nav></div></header>`
  const body = views.length
    ? `<div class="grid">${views.map(card).join('\n')}</div>`
    : '<div class="empty"><strong>No services currently available.</strong>Check back soon.</div>'
  return page({
    title: `${displayName} — paid APIs and inference`,
    description: `${views.length} service(s) payable per call with x402.`,
    header,
    body,
    footer: 'Served by Vend. Prices are exact token amounts; every paid call settles on chain.',
  })
}
