/**
 * Test fixtures: real offers (parsed and resolved) run through the real reconciler, so the storefront tests
 * see the catalog exactly as the engine hands it over.
 */
import { createGateway, type Gateway } from '../../gateway/createGateway.ts'
import { parseOfferDocuments } from '../../offer/parseOffers.ts'
import { reconcile } from '../../reconciler/reconcile.ts'
import { createStorefrontHandler } from '../createStorefrontHandler.ts'
import { renderPaymentPage } from '../renderPaymentPage.ts'
import type { CatalogEntry, RouteEntry, DesiredOffer, HealthObservation, ModelObservation, Observations, RegistrationObservation } from '../../reconciler/types.ts'

export const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
export const OBOL = '0x0B010000b7624eb9B3DfBC279673C76E9D29D5E7'
export const NOW = Date.parse('2026-11-23T12:00:00Z')

const head = (name: string, ns: string) => `apiVersion: vend.dev/v1alpha1
kind: ServiceOffer
metadata: {name: ${name}, namespace: ${ns}}
spec:`

/** A cheap HTTP API (0.000001 USDC) whose description tries to inject a script. */
export const WEATHER = `${head('weather', 'default')}
  type: http
  description: "Forecasts <script>alert('xss')</script> & more"
  upstream: {url: "http://127.0.0.1:9/"}
  payment: {network: base-sepolia, payTo: "${PAY_TO}", price: {perRequest: "0.000001"}}
`

/** An HTTP API with explicit routes (paid 12.5, free, wildcard), draining. */
export const REPORTS = `${head('reports', 'acme')}
  type: http
  upstream: {url: "http://127.0.0.1:9/"}
  path: /reports
  payment: {network: base, payTo: "${PAY_TO}", price: {perRequest: "12.5"}}
  registration: {enabled: false}
  drainAt: "2026-11-23T11:00:00Z"
  drainGracePeriod: 2h
  routes:
    - {path: /report, methods: [POST], summary: "Full report"}
    - {path: /status, gate: free, methods: [GET]}
    - {path: /jobs/_any, price: {perRequest: "0.5"}}
`

/** LLM inference priced per million tokens, registered as ERC-8004 agent 7. */
export const LLM = `${head('qwen', 'ai')}
  type: inference
  upstream: {url: "http://127.0.0.1:9/"}
  model: {name: "qwen3:0.6b", maxTokens: 1024}
  payment: {network: base-sepolia, payTo: "${PAY_TO}", price: {perMTok: "1.25"}}
`

/** An 18-decimal token charging its smallest unit. */
export const TOKEN18 = `${head('tiny', 'default')}
  type: http
  upstream: {url: "http://127.0.0.1:9/"}
  registration: {enabled: false}
  payment:
    network: ethereum
    payTo: "${PAY_TO}"
    asset: {address: "${OBOL}", symbol: OBOL, decimals: 18, eip712Name: "Obol Token", eip712Version: "1"}
    price: {perRequest: "0.000000000000000001"}
`

/** Healthy upstream, but the payment gate is not ready: never in the catalog. */
export const UNREADY = `${head('unready', 'default')}
  type: http
  upstream: {url: "http://127.0.0.1:9/"}
  payment: {network: polygon, payTo: "${PAY_TO}", price: {perRequest: "1"}}
`

function desired(text: string, createdAt: number): DesiredOffer {
  const [d] = parseOfferDocuments(text, 'offer.yaml')
  if (!d?.ok) throw new Error(`fixture does not parse: ${d ? d.problem.message : 'empty'}`)
  const o = d.offer
  // The schema's path pattern rejects "*" although resolveOffer supports a trailing "/*": write it as "/_any".
  for (const r of o.spec.routes ?? []) r.path = r.path.replace(/\/_any$/, '/*')
  return { key: `${o.metadata.namespace}/${o.metadata.name}`, namespace: o.metadata.namespace, name: o.metadata.name, file: `offers/${o.metadata.namespace}/${o.metadata.name}.yaml`, createdAt, generation: `g${createdAt}`, offer: o }
}

/** What the reconciler publishes for these offer files (all upstreams healthy, models ready, ai/qwen registered). */
export function reconcileFixtures(texts: readonly string[]): { catalog: CatalogEntry[]; routes: RouteEntry[] } {
  const offers = texts.map((t, i) => desired(t, i + 1))
  const health = new Map<string, HealthObservation>(offers.map((d) => [d.key, { healthy: true, status: 200, checkedAt: NOW }]))
  const model = new Map<string, ModelObservation>(offers.map((d) => [d.key, { ready: true, reason: 'Loaded', message: 'ok' }]))
  const obs: Observations = {
    now: NOW, health, model,
    facilitatorFor: (caip2) => ({ configured: caip2 !== 'eip155:137', supportsNetwork: true }),
    registration: new Map<string, RegistrationObservation>([['ai/qwen', { agentId: '7', uriMatches: true }]]),
    previous: new Map(),
  }
  const { catalog, routes } = reconcile(offers, obs)
  return { catalog, routes }
}

export function catalogOf(texts: readonly string[]): CatalogEntry[] {
  return reconcileFixtures(texts).catalog
}

export const FULL = [WEATHER, REPORTS, LLM, TOKEN18, UNREADY]

/** A real gateway on 127.0.0.1:0 serving these offers, with the storefront as its system handler and the HTML 402 page. */
export async function startGatewayWithStorefront(texts: readonly string[]): Promise<{ base: string; gateway: Gateway }> {
  const { catalog, routes } = reconcileFixtures(texts)
  let base = ''
  const gateway = createGateway({
    listen: '127.0.0.1:0',
    baseUrl: () => base,
    systemHandler: createStorefrontHandler({ getCatalog: () => catalog, baseUrl: () => base }),
    renderPaymentPage,
  })
  const { port } = await gateway.start()
  base = `http://127.0.0.1:${port}`
  gateway.setRoutes(routes)
  return { base, gateway }
}
