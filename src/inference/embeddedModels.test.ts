import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ensureTinyModel } from '../../test/helpers/tinyModel.ts'
import { resolveOffer } from '../offer/resolveOffer.ts'
import { ServiceOffer } from '../offer/schema.ts'
import { createEmbeddedModels, embeddedModelSpecs } from './embeddedModels.ts'

/** Resolve once the models report a change (a load finished or failed). */
function changes() {
  let wake: () => void = () => {}
  return { onChange: () => wake(), next: () => new Promise<void>((r) => { wake = r }) }
}

test('runtimes follow the offers: loaded, restarted on change, closed when removed, errors as ModelReady', async () => {
  const file = await ensureTinyModel()
  const c = changes()
  const models = createEmbeddedModels({ onChange: c.onChange })
  try {
    let next = c.next()
    models.sync([{ key: 'default/chat', file, modelName: 'tiny', threads: 1 }, { key: 'default/gone', file: '/nonexistent/x.gguf', modelName: 'x' }])
    assert.equal(models.observation('default/chat')?.reason, 'Loading')
    while (models.observation('default/chat')?.reason === 'Loading' || models.observation('default/gone')?.reason === 'Loading') { await next; next = c.next() }
    assert.deepEqual(models.observation('default/chat'), { ready: true, reason: 'Loaded', message: `Model tiny is served from ${file} inside the daemon.` })
    const missing = models.observation('default/gone')
    assert.equal(missing?.ready, false)
    assert.equal(missing?.reason, 'ModelFileMissing')
    assert.match(missing?.message ?? '', /The model file \/nonexistent\/x\.gguf does not exist\. Check spec\.model\.file/)

    const first = models.runtime('default/chat')!
    assert.equal((await fetch(`${first.url}/v1/models`)).status, 200)

    // Same spec: nothing restarts. Changed threads: a new runtime replaces the old one.
    models.sync([{ key: 'default/chat', file, modelName: 'tiny', threads: 1 }])
    assert.equal(models.runtime('default/chat'), first)
    next = c.next()
    models.sync([{ key: 'default/chat', file, modelName: 'tiny', threads: 2 }])
    await next
    const second = models.runtime('default/chat')!
    assert.notEqual(second.url, first.url)
    await assert.rejects(fetch(`${first.url}/health`))

    models.sync([])
    assert.equal(models.runtime('default/chat'), undefined)
    assert.equal(models.observation('default/chat'), undefined)
  } finally {
    await models.close()
  }
})

test('embeddedModelSpecs picks inference offers with a model file', () => {
  const offer = (name: string, spec: Record<string, unknown>) => resolveOffer(ServiceOffer.parse({
    apiVersion: 'vend.dev/v1alpha1', kind: 'ServiceOffer', metadata: { name },
    spec: { payment: { network: 'base-sepolia', payTo: '0x90F79bf6EB2c4f870365E785982E1f101E93b906', price: { perMTok: '1' } }, ...spec },
  }))
  const specs = embeddedModelSpecs([
    offer('local', { type: 'inference', model: { name: 'tiny', file: '/models/tiny.gguf', threads: 2, contextSize: 512 } }),
    offer('remote', { type: 'inference', model: { name: 'llama3' }, upstream: { url: 'http://127.0.0.1:11434' } }),
  ])
  assert.deepEqual(specs, [{ key: 'default/local', file: '/models/tiny.gguf', modelName: 'tiny', threads: 2, contextSize: 512 }])
})
