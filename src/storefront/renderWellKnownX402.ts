/**
 * GET /.well-known/x402: every concrete paid resource with its x402 v2 requirements; for inference offers
 * the resources are <path>/v1/chat/completions (first), /v1/completions and /v1/embeddings. Pure.
 */
import { paidOperations, type ServiceView } from './serviceView.ts'

export function renderWellKnownX402(views: readonly ServiceView[]): string {
  const resources = paidOperations(views).map(({ view, op }) => ({
    resource: op.url, method: op.method, description: op.summary ?? view.description, accepts: [op.accepts],
  }))
  return JSON.stringify({ x402Version: 2, resources }, null, 2)
}
