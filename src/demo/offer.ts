/**
 * The demo offer `demo/hello`: the daemon's built-in demo upstream (upstream.ts) sold for 0.001 USDC per request on
 * the dev chain, settled by the in-process facilitator, paid to a dev seller account (never the dev buyer), not
 * registered on ERC-8004 (a demo has no public URL).
 */
import type { Address } from '../offer/networks.ts'
import { API_VERSION, KIND, type ServiceOfferInput } from '../offer/schema.ts'
import { splitHostPort } from '../state/stackConfig.ts'
import { DEMO_HEALTH_PATH, DEMO_UPSTREAM_PATH } from './upstream.ts'

export const DEMO_NAMESPACE = 'demo'
export const DEMO_NAME = 'hello'
export const DEMO_KEY = `${DEMO_NAMESPACE}/${DEMO_NAME}`
export const DEMO_PATH = '/demo/hello'
export const DEMO_PRICE = '0.001'
/** anvil's public dev account #3 (the dev chain uses #0 to mint, #1 as the buyer, #2 to settle). */
export const DEMO_PAY_TO: Address = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'

/** The stack's own listener as seen from this machine: a wildcard host becomes loopback. */
export function loopbackUrl(listen: string): string {
  const [host, port] = splitHostPort(listen)
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host
  return `http://${h}:${port}`
}

/** The demo offer for a stack listening on `listen`, on the dev chain's network (`local` or `base-sepolia`). */
export function demoOffer(listen: string, network: string): ServiceOfferInput {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: DEMO_NAME, namespace: DEMO_NAMESPACE },
    spec: {
      type: 'http',
      description: 'Vend\'s built-in demo: a JSON greeting, paid per request on the local dev chain.',
      path: DEMO_PATH,
      upstream: { url: `${loopbackUrl(listen)}${DEMO_UPSTREAM_PATH}`, healthPath: DEMO_HEALTH_PATH },
      payment: { network, payTo: DEMO_PAY_TO, price: { perRequest: DEMO_PRICE }, facilitator: 'local' },
      registration: { enabled: false },
    },
  }
}
