import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { encodePaymentRequiredHeader } from '@x402/core/http'
import { fetchCatalog, pickService, probeLivePrice, resolveSeller, type CatalogService } from './discovery.ts'

const ASSET = '0x5FbDB2315678afecb367f032d93F642f64180aa3'

async function withSeller(live: string, fn: (base: string) => Promise<void>): Promise<void> {
  let base = ''
  const service = (name: string): CatalogService => ({
    name, namespace: 'default', type: 'http', endpoint: `${base}/services/${name}`, priceRaw: '0.001', priceUnit: 'perRequest', priceAtomicUnits: '1000',
    payTo: '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc', caip2Network: 'eip155:31337', asset: { address: ASSET, symbol: 'USDC', decimals: 6 },
    routes: [{ method: 'GET', path: `/services/${name}`, url: `${base}/services/${name}`, gate: 'paid', priceAtomicUnits: '1000' }],
  })
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/api/services.json') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ services: [service('a'), service('b')] })); return }
    const required = { x402Version: 2, error: 'payment required', resource: { url: `${base}${req.url}` }, accepts: [{ scheme: 'exact', network: 'eip155:31337', amount: live, asset: ASSET, payTo: '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc', maxTimeoutSeconds: 300, extra: {} }] }
    res.writeHead(402, { 'payment-required': encodePaymentRequiredHeader(required as never), 'content-type': 'application/json' }).end('{}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try { await fn(base) } finally { server.closeAllConnections(); await new Promise<void>((r) => server.close(() => r())) }
}

test('the live 402 must ask exactly the catalog price', async () => {
  await withSeller('1000', async (base) => {
    const ref = await resolveSeller(base)
    const a = pickService(await fetchCatalog(ref), ref, 'a')
    assert.equal((await probeLivePrice(a)).amount, 1000n)
  })
  await withSeller('2000', async (base) => {
    const ref = await resolveSeller(base)
    const a = pickService(await fetchCatalog(ref), ref, 'a')
    await assert.rejects(probeLivePrice(a), /live price of default\/a \(0\.002 USDC\) differs from its catalog price \(0\.001 USDC\)/)
  })
})

test('choosing the offer: by --offer, by the URL path, or an error naming the candidates', async () => {
  await withSeller('1000', async (base) => {
    const byPath = await resolveSeller(`${base}/services/b`)
    assert.equal(pickService(await fetchCatalog(byPath), byPath).name, 'b')
    const bare = await resolveSeller(base)
    const services = await fetchCatalog(bare)
    assert.throws(() => pickService(services, bare), /several services \(default\/a, default\/b\).*--offer/)
    assert.throws(() => pickService(services, bare, 'zzz'), /offers no "zzz" \(it offers: default\/a, default\/b\)/)
  })
  await assert.rejects(resolveSeller('ftp://x'), /Invalid seller "ftp:\/\/x"/)
  await assert.rejects(resolveSeller('12@nochain'), /Unknown chain "nochain"/)
})
