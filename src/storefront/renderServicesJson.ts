/** GET /api/services.json: the machine-readable catalog feed (schemaVersion "1"). Pure. */
import type { PriceView, ServiceView } from './serviceView.ts'

function priceFields(p: PriceView) {
  return { price: p.label, priceRaw: p.decimal, priceUnit: p.unit, priceAtomicUnits: p.atomic }
}

export function renderServicesJson(views: readonly ServiceView[], displayName: string): string {
  return JSON.stringify({
    schemaVersion: '1',
    displayName,
    services: views.map((v) => ({
      name: v.name,
      namespace: v.namespace,
      type: v.type,
      ...(v.model === undefined ? {} : { model: v.model }),
      endpoint: v.endpoint,
      description: v.description,
      ...priceFields(v.price),
      payTo: v.payTo,
      network: v.network,
      caip2Network: v.caip2,
      chainId: v.chainId,
      asset: {
        address: v.asset.address, symbol: v.asset.symbol, decimals: v.asset.decimals, transferMethod: v.asset.transferMethod,
        eip712Domain: { name: v.asset.eip712Name, version: v.asset.eip712Version },
      },
      registrationPending: v.registrationPending,
      ...(v.agentId === undefined ? {} : { agentId: v.agentId }),
      ...(v.drainEndsAt === undefined ? {} : { drainEndsAt: v.drainEndsAt }),
      routes: v.operations.map((o) => ({
        method: o.method, path: o.path, url: o.url, gate: o.gate,
        ...(o.gate === 'paid' ? priceFields(o.price) : {}),
        ...(o.summary === undefined ? {} : { summary: o.summary }),
      })),
    })),
  }, null, 2)
}
