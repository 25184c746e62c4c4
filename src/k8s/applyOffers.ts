/**
 * Offer files -> ServiceOffers: server-side apply (field manager "vend") of every valid offer file, then prune the
 * ServiceOffers carrying the CLI's ownership label that have no file any more. A ServiceOffer without the label
 * (applied by kubectl or a GitOps tool) is never touched; a file that does not parse keeps its last applied version.
 * Offers whose resource already matches are not written at all, so a second run changes nothing.
 */
import { isDeepStrictEqual } from 'node:util'
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node'
import { InvalidInputError } from '../errors/base.ts'
import type { OfferFileRecord } from '../state/offerStore.ts'
import { FIELD_MANAGER, GROUP, MANAGED_BY_CLI, MANAGED_BY_LABEL, PLURAL, resourceForOffer, VERSION, type ServiceOfferResource } from './resources.ts'

export type ApplyReport = {
  applied: string[]
  unchanged: string[]
  pruned: string[]
  /** Offer files that are invalid: not applied, and their resources not pruned. */
  skipped: { file: string; message: string }[]
}

const json = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown

function upToDate(existing: ServiceOfferResource | undefined, want: ServiceOfferResource): boolean {
  if (!existing) return false
  const has = (a: Record<string, string> | undefined, b: Record<string, string> | undefined) => Object.entries(b ?? {}).every(([k, v]) => a?.[k] === v)
  return isDeepStrictEqual(json(existing.spec), json(want.spec))
    && has(existing.metadata.labels, want.metadata.labels) && has(existing.metadata.annotations, want.metadata.annotations)
}

export async function applyOffers(kc: KubeConfig, namespace: string, records: readonly OfferFileRecord[]): Promise<ApplyReport> {
  const api = kc.makeApiClient(CustomObjectsApi)
  const G = { group: GROUP, version: VERSION, namespace, plural: PLURAL }
  const report: ApplyReport = { applied: [], unchanged: [], pruned: [], skipped: [] }

  const byName = new Map<string, OfferFileRecord>()
  for (const r of records) {
    const other = byName.get(r.name)
    if (other) {
      throw new InvalidInputError(`The offers ${other.key} and ${r.key} would both be the ServiceOffer ${namespace}/${r.name}.`, {
        hint: 'Offer names must be unique across offer namespaces on Kubernetes; rename one of them.',
      })
    }
    byName.set(r.name, r)
  }

  const list = await api.listNamespacedCustomObject(G) as { items: ServiceOfferResource[] }
  const existing = new Map(list.items.map((i) => [i.metadata.name, i]))

  for (const r of records) {
    if (!r.offer) { report.skipped.push({ file: r.file, message: r.problem.message }); continue }
    const want = resourceForOffer(r.offer, namespace)
    if (upToDate(existing.get(r.name), want)) { report.unchanged.push(r.name); continue }
    await api.patchNamespacedCustomObject(
      { ...G, name: r.name, body: want, fieldManager: FIELD_MANAGER, force: true },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    )
    report.applied.push(r.name)
  }

  for (const item of list.items) {
    if (item.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_CLI || byName.has(item.metadata.name)) continue
    await api.deleteNamespacedCustomObject({ ...G, name: item.metadata.name })
    report.pruned.push(item.metadata.name)
  }
  return report
}
