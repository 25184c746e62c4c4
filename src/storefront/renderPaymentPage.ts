/**
 * The HTML 402 page a browser gets from a paid route it did not pay for: what it costs (exact token
 * amount, never float formatting), on which network, to whom, and three ways to pay. The gateway calls it
 * with the request's x402 v2 challenge (option `renderPaymentPage` of createGateway). Pure.
 *
 * For an inference offer the examples call <offer>/v1/chat/completions with POST (a browser usually opens the
 * offer URL itself); for an HTTP API they repeat the request the browser made (GET).
 */
import type { PaymentPageInfo } from '../gateway/createGateway.ts'
import { formatAtomic } from '../offer/price.ts'
import { curlExample, vendPayExample } from './examples.ts'
import { escapeHtml as e, page, snippet } from './html.ts'
import { defaultDescription, toPriceView } from './serviceView.ts'

function clientSnippet(url: string, network: string, model: string | undefined): string {
  const body = model === undefined ? '' : JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }] })
  const init = body ? `, {\n  method: 'POST',\n  headers: { 'content-type': 'application/json' },\n  body: JSON.stringify(${body}),\n}` : ''
  return [
    "import { wrapFetchWithPayment, x402Client } from '@x402/fetch'",
    "import { ExactEvmScheme } from '@x402/evm/exact/client'",
    "import { privateKeyToAccount } from 'viem/accounts'",
    '',
    `const client = new x402Client().register(${JSON.stringify(network)}, new ExactEvmScheme(privateKeyToAccount(process.env.PRIVATE_KEY)))`,
    'const payFetch = wrapFetchWithPayment(fetch, client)',
    `const res = await payFetch(${JSON.stringify(url)}${init})`,
    "console.log(res.status, await res.text(), res.headers.get('PAYMENT-RESPONSE'))",
  ].join('\n')
}

/** <offer>/v1/chat/completions for a request to the offer path itself; any /v1/... URL stays as it is. */
function chatUrl(resourceUrl: string, offerPath: string): string {
  const u = new URL(resourceUrl)
  if (u.pathname.startsWith(`${offerPath === '/' ? '' : offerPath}/v1/`)) return resourceUrl
  return `${u.origin}${offerPath === '/' ? '' : offerPath}/v1/chat/completions`
}

export function renderPaymentPage(info: PaymentPageInfo): string {
  const { resolved, paymentRequired } = info
  const { asset, chain } = resolved
  const accept = paymentRequired.accepts[0]
  const atomic = accept ? BigInt(accept.amount) : resolved.price.atomic
  const amount = `${formatAtomic(atomic, asset.decimals)} ${asset.symbol}`
  const perMTok = resolved.price.unit === 'perMTok'
  const inference = resolved.offer.spec.type === 'inference'
  const method = inference ? 'POST' : 'GET'
  const name = resolved.offer.metadata.name
  const description = defaultDescription(resolved)
  const resourceUrl = paymentRequired.resource.url || info.url
  const callUrl = inference ? chatUrl(resourceUrl, resolved.path) : resourceUrl
  const target = { method, url: callUrl, type: resolved.offer.spec.type, model: resolved.offer.spec.model?.name }
  const unitNote = perMTok
    ? `per request (${e(toPriceView(resolved.price, asset).label)} × up to ${resolved.offer.spec.model?.maxTokens ?? 1024} tokens)`
    : 'per request'
  const facts: [string, string][] = [
    ['Service', `${e(name)} <span class="muted">(${e(info.offerKey)})</span>`],
    ['Network', `${e(chain.name)} <span class="muted">(${e(accept?.network ?? chain.caip2)})</span>`],
    ['Token', `${e(asset.symbol)} <code>${e(accept?.asset ?? asset.address)}</code>`],
    ['Pay to', `<code>${e(accept?.payTo ?? resolved.offer.spec.payment.payTo)}</code>`],
    ['Resource', `<code>${e(resourceUrl)}</code>`],
  ]
  const body = `<div class="pay"><article class="card">
<span class="status">402 · Payment required</span>
<h2>${e(name)}</h2>
<p class="desc">${e(description)}</p>
<div class="amount">${e(amount)}</div>
<p class="muted note">${unitNote}, paid with an x402 micropayment on ${e(chain.name)}. No account or API key needed.</p>
<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
<h3>Ways to pay</h3>
${snippet('pay-vend', 'With the Vend CLI (signs the payment, prints the response and the receipt)', vendPayExample(target))}
${snippet('pay-curl', 'See the challenge: HTTP 402 with the PAYMENT-REQUIRED header (base64 JSON)', curlExample(target))}
${snippet('pay-js', 'From code with an x402 client (@x402/fetch)', clientSnippet(callUrl, accept?.network ?? chain.caip2, inference ? target.model ?? '' : undefined))}
<p class="muted">Any x402 client works: sign an EIP-3009 authorisation for exactly <code>${e(accept?.amount ?? atomic.toString())}</code> (the amount in the token's smallest unit) and retry with the <code>PAYMENT-SIGNATURE</code> (x402 v2) or <code>X-PAYMENT</code> (x402 v1) header.</p>
</article></div>`
  return page({
    title: `Payment required: ${name} — ${amount}`,
    description: `${name}: ${amount} per request via x402.`,
    header: `<header class="top narrow"><div class="wrap"><h1>Payment required</h1><p>This resource is paid per request with x402 stablecoin micropayments.</p><nav><a href="/">All services</a><a href="/skill.md">skill.md</a><a href="/openapi.json">OpenAPI</a></nav></div></header>`,
    body,
    footer: 'Served by Vend.',
    narrow: true,
  })
}
