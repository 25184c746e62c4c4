/** The ServiceOffer CRD: generated from the offer file schema, committed in the chart, structural, and valid. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition'
import { parse } from 'yaml'
import { offerJsonSchema } from '../src/offer/schema.ts'
import { re2Compatible, serviceOfferCrd, serviceOfferCrdYaml, toStructural } from '../src/k8s/crd.ts'
import { CRD_FILE } from '../src/k8s/writeCrd.ts'

type S = Record<string, any>

test('the committed chart CRD is exactly what the offer schema generates (run src/k8s/writeCrd.ts after a schema change)', () => {
  assert.equal(readFileSync(CRD_FILE, 'utf8'), serviceOfferCrdYaml())
})

/** Every constraint of the file schema is in the CRD schema, field by field. */
function sameConstraints(file: S, crd: S, path: string): void {
  if (file.anyOf) {
    assert.equal(crd.type, 'object', path)
    assert.deepEqual(crd.oneOf, file.anyOf.map((b: S) => ({ required: b.required ?? [] })), path)
    for (const b of file.anyOf) for (const [k, p] of Object.entries(b.properties as S)) sameConstraints(p as S, crd.properties[k], `${path}.${k}`)
    return
  }
  assert.equal(crd.type, file.type, `${path}: type`)
  for (const k of ['const' in file ? 'const' : 'enum', 'pattern', 'format', 'maximum', 'minLength', 'maxLength', 'maxItems', 'default', 'required']) {
    if (k === 'const') assert.deepEqual(crd.enum, [file.const], `${path}: const`)
    else if (k === 'pattern' && file.pattern && !re2Compatible(file.pattern)) assert.equal(crd.pattern, undefined, `${path}: non-RE2 pattern left out`)
    else assert.deepEqual(crd[k], file[k], `${path}: ${k}`)
  }
  if (typeof file.exclusiveMinimum === 'number') assert.deepEqual([crd.minimum, crd.exclusiveMinimum], [file.exclusiveMinimum, true], `${path}: exclusiveMinimum`)
  else assert.equal(crd.minimum, file.minimum, `${path}: minimum`)
  assert.deepEqual(Object.keys(crd.properties ?? {}), Object.keys(file.properties ?? {}), `${path}: properties`)
  for (const [k, p] of Object.entries((file.properties ?? {}) as S)) sameConstraints(p as S, crd.properties[k], `${path}.${k}`)
  if (file.items) sameConstraints(file.items, crd.items, `${path}[]`)
  if (file.additionalProperties && typeof file.additionalProperties === 'object') sameConstraints(file.additionalProperties, crd.additionalProperties, `${path}{}`)
}

/** Kubernetes' structural schema rules that the API server would reject a CRD for. */
function assertStructural(s: S, path: string): void {
  assert.ok(s.type || s['x-kubernetes-preserve-unknown-fields'], `${path}: every node needs a type`)
  assert.ok(!('$schema' in s) && !('$ref' in s) && !('const' in s) && !('propertyNames' in s), `${path}: unsupported keyword`)
  assert.ok(!(s.properties && 'additionalProperties' in s), `${path}: properties and additionalProperties are mutually exclusive`)
  if (typeof s.exclusiveMinimum !== 'undefined') assert.equal(typeof s.exclusiveMinimum, 'boolean', `${path}: OpenAPI v3.0 exclusiveMinimum`)
  for (const branch of s.oneOf ?? []) assert.deepEqual(Object.keys(branch), ['required'], `${path}: junctors carry value validation only`)
  for (const [k, p] of Object.entries((s.properties ?? {}) as S)) assertStructural(p as S, `${path}.${k}`)
  if (s.items) assertStructural(s.items, `${path}[]`)
  if (s.additionalProperties && typeof s.additionalProperties === 'object') assertStructural(s.additionalProperties, `${path}{}`)
}

test('the CRD spec schema carries every constraint of the offer file schema and is structural', () => {
  const file = offerJsonSchema() as S
  const crd = serviceOfferCrd() as S
  const schema = crd.spec.versions[0].schema.openAPIV3Schema
  sameConstraints(file.properties.spec, schema.properties.spec, 'spec')
  assertStructural(schema, 'openAPIV3Schema')
  assert.deepEqual(crd.spec.versions[0].subresources, { status: {} })
  assert.deepEqual(crd.spec.versions[0].additionalPrinterColumns.map((c: S) => c.name), ['Type', 'Model', 'Price', 'Network', 'Ready', 'Age'])
})

test('the CRD passes the Kubernetes apiextensions/v1 schema', () => {
  new CustomResourceDefinition(parse(readFileSync(CRD_FILE, 'utf8'))).validate()
})

test('patterns the API server (RE2) cannot compile are recognised', () => {
  assert.equal(re2Compatible('^\\/[a-z]*(\\/\\*)?$'), true)
  assert.equal(re2Compatible('^\\/[a-z]*(?<=\\/)\\*$'), false)
  assert.equal(re2Compatible('^(?!x)'), false)
  assert.equal(re2Compatible('(a)\\1'), false)
  assert.equal(re2Compatible('^(?:a|b)$'), true)
})

test('conversion refuses what it cannot express instead of dropping it', () => {
  assert.throws(() => toStructural({ $ref: '#/$defs/x' }), /unsupported/)
  assert.throws(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'object' }] }), /unions of objects/)
})
