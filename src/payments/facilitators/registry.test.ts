import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ServiceOffer } from '../../offer/schema.ts'
import { DEFAULT_TESTNET_FACILITATOR, StackConfig } from '../../state/stackConfig.ts'
import { createFacilitatorRegistry, facilitatorChoice } from './registry.ts'

const offer = (facilitator?: string) => ({ spec: { payment: { facilitator } } }) as unknown as ServiceOffer
const dev = { rpcUrl: 'http://127.0.0.1:1', chainId: 31337, caip2: 'eip155:31337', settler: { privateKey: `0x${'11'.repeat(32)}` } }

test('facilitator choice: offer override, then a network entry, then the dev chain, then "*"', async () => {
  const reg = createFacilitatorRegistry({
    config: StackConfig.parse({ facilitators: [{ network: 'base', url: 'http://127.0.0.1:2/base' }, { network: '*', url: 'http://127.0.0.1:2/any' }] }),
    devChain: dev,
  })
  try {
    assert.equal(reg.facilitatorFor('eip155:8453', offer('http://127.0.0.1:2/own'))?.id, 'http://127.0.0.1:2/own')
    assert.equal(reg.facilitatorFor('eip155:8453', offer())?.id, 'http://127.0.0.1:2/base')
    assert.equal(reg.facilitatorFor('eip155:31337', offer())?.id, 'local')
    assert.equal(reg.facilitatorFor('eip155:84532', offer())?.id, 'http://127.0.0.1:2/any')
    assert.equal(reg.observe('eip155:31337', offer()).configured, true)
    assert.deepEqual(reg.observe('eip155:84532', offer('local')), {
      configured: false, url: 'local', detail: 'the local facilitator settles only on the dev chain (eip155:31337)',
    })
  } finally { await reg.close() }
})

test('without configuration: the public facilitator on testnets, nothing on mainnets or a chain that is not running', () => {
  const bare = StackConfig.parse({})
  assert.equal(facilitatorChoice(bare, undefined, 'eip155:84532'), DEFAULT_TESTNET_FACILITATOR)
  assert.equal(facilitatorChoice(bare, undefined, 'eip155:8453'), undefined)
  assert.equal(facilitatorChoice(bare, undefined, 'eip155:31337'), undefined)
  assert.equal(facilitatorChoice(StackConfig.parse({ defaults: { facilitator: 'http://127.0.0.1:3' } }), undefined, 'eip155:8453'), 'http://127.0.0.1:3')
})
