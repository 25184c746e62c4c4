/**
 * The ServiceOffer CustomResourceDefinition, generated from the same zod schema as the offer files
 * (offerJsonSchema(), draft 2020-12) converted to a Kubernetes structural openAPIV3Schema:
 * no $schema, `const` -> one-value enum, no `additionalProperties: false` beside `properties` (structural schemas
 * prune unknown fields anyway), no `propertyNames`, numeric `exclusiveMinimum` -> OpenAPI v3.0 boolean form, and
 * unions of objects (secret references) merged into one object whose alternatives stay as `oneOf` of `required`,
 * and patterns RE2 cannot compile left out (see re2Compatible).
 * charts/vend/crds/serviceoffers.yaml is this output (src/k8s/writeCrd.ts); a test fails when they drift.
 */
import { stringify } from 'yaml'
import { API_GROUP, KIND, offerJsonSchema } from '../offer/schema.ts'

export const CRD_VERSION = 'v1alpha1'
export const PLURAL = 'serviceoffers'
export const SINGULAR = 'serviceoffer'
export const CRD_NAME = `${PLURAL}.${API_GROUP}`

type Schema = { [k: string]: unknown }

const DROP = new Set(['$schema', 'propertyNames', 'additionalProperties', 'const', 'exclusiveMinimum', 'anyOf'])

/**
 * The API server compiles patterns with Go's RE2: no lookaround, no backreferences. Such a pattern is left out of
 * the CRD; the controller still validates every resource with the file schema and reports Valid=False.
 */
export function re2Compatible(pattern: string): boolean {
  return !/\(\?<?[=!]|\\[1-9]/.test(pattern)
}

/** Draft 2020-12 (as zod emits it) -> Kubernetes structural schema. Throws on constructs it does not know. */
export function toStructural(s: Schema): Schema {
  if ('$ref' in s || 'allOf' in s || 'not' in s) throw new Error(`unsupported JSON Schema construct in the offer schema: ${Object.keys(s).join(', ')}`)
  if (Array.isArray(s.anyOf)) return mergeObjectUnion(s.anyOf as Schema[], s)
  const out: Schema = {}
  for (const [k, v] of Object.entries(s)) {
    if (DROP.has(k)) continue
    if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([n, p]) => [n, toStructural(p)]))
    else if (k === 'items') out.items = toStructural(v as Schema)
    else if (k === 'pattern' && !re2Compatible(v as string)) continue
    else out[k] = v
  }
  if ('const' in s) out.enum = [s.const]
  if (typeof s.exclusiveMinimum === 'number') { out.minimum = s.exclusiveMinimum; out.exclusiveMinimum = true }
  const ap = s.additionalProperties
  if (ap && typeof ap === 'object') out.additionalProperties = toStructural(ap as Schema)
  return out
}

/** anyOf of objects -> one object with every branch's properties, exactly one branch's required fields present. */
function mergeObjectUnion(branches: Schema[], outer: Schema): Schema {
  if (!branches.every((b) => b.type === 'object')) throw new Error('only unions of objects are supported in the CRD schema')
  const properties: Record<string, Schema> = {}
  for (const b of branches) Object.assign(properties, toStructural({ properties: b.properties ?? {} }).properties as Record<string, Schema>)
  const rest = Object.fromEntries(Object.entries(outer).filter(([k]) => !DROP.has(k)))
  return { ...rest, type: 'object', properties, oneOf: branches.map((b) => ({ required: b.required ?? [] })) }
}

/** The openAPIV3Schema of the CRD: spec from the file schema; metadata belongs to the API server; status is ours. */
export function serviceOfferOpenApiSchema(): Schema {
  const file = offerJsonSchema() as { properties: { spec: Schema } }
  return {
    type: 'object',
    description: 'A ServiceOffer sells an HTTP API or LLM inference for x402 micropayments.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: toStructural(file.properties.spec),
      status: {
        type: 'object',
        properties: {
          observedGeneration: { type: 'integer' },
          specHash: { type: 'string', description: 'Hash of the spec the conditions were computed for (as for offer files).' },
          price: { type: 'string', description: 'The resolved price, for display.' },
          path: { type: 'string' },
          conditions: {
            type: 'array',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['type'],
            items: {
              type: 'object',
              required: ['type', 'status'],
              properties: {
                type: { type: 'string' },
                status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
                reason: { type: 'string' },
                message: { type: 'string' },
                lastTransitionTime: { type: 'string', format: 'date-time' },
                observedGeneration: { type: 'integer' },
              },
            },
          },
        },
      },
    },
  }
}

export function serviceOfferCrd(): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME, labels: { 'app.kubernetes.io/part-of': 'vend' } },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: ['so', 'offer'], categories: ['vend'] },
      versions: [{
        name: CRD_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Type', type: 'string', jsonPath: '.spec.type' },
          { name: 'Model', type: 'string', jsonPath: '.spec.model.name' },
          { name: 'Price', type: 'string', jsonPath: '.status.price' },
          { name: 'Network', type: 'string', jsonPath: '.spec.payment.network' },
          { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: { openAPIV3Schema: serviceOfferOpenApiSchema() },
      }],
    },
  }
}

export function serviceOfferCrdYaml(): string {
  return `# Generated by src/k8s/writeCrd.ts from src/offer/schema.ts (src/k8s/crd.ts). Do not edit.\n${stringify(serviceOfferCrd(), { lineWidth: 0 })}`
}
