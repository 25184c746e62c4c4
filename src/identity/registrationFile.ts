/**
 * The ERC-8004 registration file served at /.well-known/agent-registration.json (the agentURI). Pure: built
 * from the catalog, the stack's base URL, the recorded identities and the operator's registration settings.
 * Operator-given name, description, image, skills and domains are copied verbatim.
 */
import type { ServiceOffer } from '../offer/schema.ts'
import type { CatalogEntry } from '../reconciler/types.ts'
import type { AgentProfile, IdentityRecord } from './identityStore.ts'

export const REGISTRATION_TYPE = 'https://eips.ethereum.org/EIPS/eip-8004#registration-v1'
export const REGISTRATION_FILE_PATH = '/.well-known/agent-registration.json'
export const OASF_VERSION = '0.8'

export type RegistrationService =
  | { name: 'web'; endpoint: string }
  | { name: 'OASF'; version: string; skills: string[]; domains: string[] }

export type RegistrationFile = {
  type: typeof REGISTRATION_TYPE
  name: string
  description: string
  image?: string
  services: RegistrationService[]
  x402Support: true
  active: boolean
  registrations: { agentId: number; agentRegistry: string }[]
  supportedTrust: string[]
}

/** The offer whose registration block speaks for the stack's agent (name, description, image). */
export type OwnerRegistration = {
  offerName: string
  type: 'http' | 'inference'
  model: string | undefined
  /** spec.description */
  description: string | undefined
  registration: ServiceOffer['spec']['registration']
}

export type RegistrationFileInput = {
  catalog: readonly CatalogEntry[]
  /** Public base URL of the stack (absolute endpoints are built from it). */
  baseUrl: string
  identities: readonly Pick<IdentityRecord, 'chain' | 'agentId' | 'registry'>[]
  /** Default: the first catalog entry with registration enabled. */
  owner?: OwnerRegistration | undefined
  /** `vend sell register --name/--description/--image`: wins over the owner offer's block. */
  profile?: AgentProfile | undefined
}

export function ownerRegistration(offer: ServiceOffer): OwnerRegistration {
  const { spec, metadata } = offer
  return { offerName: metadata.name, type: spec.type, model: spec.model?.name, description: spec.description, registration: spec.registration }
}

/** The agentURI for a stack served at `publicUrl`. */
export function agentUriFor(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${REGISTRATION_FILE_PATH}`
}

export function buildRegistrationFile(input: RegistrationFileInput): RegistrationFile {
  const published = input.catalog.filter((e) => e.resolved.offer.spec.registration.enabled)
  // the oldest published offer names the agent (like path ownership), so adding offers never renames it
  const first = [...published].sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || (a.key < b.key ? -1 : 1))[0]
  const owner = input.owner ?? (first ? ownerRegistration(first.resolved.offer) : undefined)
  const profile = input.profile ?? {}
  const base = input.baseUrl.replace(/\/+$/, '')

  const services: RegistrationService[] = published.map((e) => ({ name: 'web', endpoint: `${base}${e.resolved.path === '/' ? '/' : e.resolved.path}` }))
  const blocks = [owner?.registration, ...published.map((e) => e.resolved.offer.spec.registration)]
  const skills = unique(blocks.flatMap((b) => b?.skills ?? []))
  const domains = unique(blocks.flatMap((b) => b?.domains ?? []))
  if (published.length && (skills.length || domains.length)) services.push({ name: 'OASF', version: OASF_VERSION, skills, domains })

  const image = profile.image ?? owner?.registration.image
  return {
    type: REGISTRATION_TYPE,
    name: profile.name ?? owner?.registration.name ?? owner?.offerName ?? 'vend-agent',
    description: profile.description ?? owner?.registration.description ?? owner?.description ?? defaultDescription(owner),
    ...(image !== undefined ? { image } : {}),
    services,
    x402Support: true,
    active: published.length > 0,
    registrations: [...input.identities]
      .sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0))
      .map((r) => ({ agentId: Number(r.agentId), agentRegistry: `${r.chain}:${r.registry}` })),
    supportedTrust: ['reputation'],
  }
}

function defaultDescription(owner: OwnerRegistration | undefined): string {
  if (owner?.type === 'inference' && owner.model) return `${owner.model} inference via x402`
  if (owner) return `${owner.offerName}: HTTP API paid per request via x402`
  return 'Paid services via x402'
}

function unique(values: string[]): string[] {
  return [...new Set(values)]
}
