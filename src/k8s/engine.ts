/**
 * The Kubernetes engine behind `vend stack up --engine kubernetes [--context] [--namespace]`: installs or upgrades
 * the chart (charts/vend) with helm, then applies the offer files as ServiceOffers and prunes the ones the CLI owns
 * that lost their file, so the files stay the source of truth as with the embedded engine. Status comes from the
 * ServiceOffers' status subresource, written by the in-cluster controller.
 * The helm invocation is injectable (tests have no cluster for helm to talk to).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import type { DaemonStatus, Engine, StackUpOptions, StackUpResult } from '../engine/api.ts'
import { BaseError } from '../errors/base.ts'
import type { OfferStatus } from '../reconciler/types.ts'
import type { HomePaths } from '../state/home.ts'
import { listOfferFiles } from '../state/offerStore.ts'
import { readStackConfig } from '../state/stackConfig.ts'
import { applyOffers, type ApplyReport } from './applyOffers.ts'
import { loadKubeConfig, namespaceFor } from './kubeConfig.ts'
import { GROUP, OFFER_NAMESPACE_LABEL, PLURAL, VERSION, type ServiceOfferResource } from './resources.ts'

export const CHART_DIR = fileURLToPath(new URL('../../charts/vend', import.meta.url))
export const RELEASE = 'vend'
/** Operator's chart values (image, replicas, database secret, ingress...), passed to helm when present. */
export const VALUES_FILE = 'kubernetes-values.yaml'

export type HelmResult = { code: number; stdout: string; stderr: string }
export type HelmRunner = (args: string[]) => Promise<HelmResult>

export class HelmError extends BaseError {
  override name = 'HelmError'
}

export const runHelm: HelmRunner = (args) => new Promise((resolve, reject) => {
  const child = spawn(process.env.VEND_HELM ?? 'helm', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  child.on('error', (err) => reject(new HelmError('helm could not be started.', { hint: 'Install helm (v3 or v4) on PATH, or set VEND_HELM to its path.', cause: err })))
  child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
})

export type KubernetesEngineOptions = {
  context?: string
  namespace?: string
  helm?: HelmRunner
  /** Default: KubeConfig.loadFromDefault (KUBECONFIG, ~/.kube/config or in-cluster), then the context. */
  kubeConfig?: KubeConfig
}

export type KubernetesStackUpResult = StackUpResult & { namespace: string; offers: ApplyReport }

function offerStatusOf(item: ServiceOfferResource): OfferStatus {
  // the offer file's namespace (as the CLI names offers), else the resource's own
  const ns = item.metadata.labels?.[OFFER_NAMESPACE_LABEL] ?? item.metadata.namespace ?? 'default'
  const conditions = item.status?.conditions ?? []
  const ready = conditions.find((c) => c.type === 'Ready')?.status === 'True'
  return {
    key: `${ns}/${item.metadata.name}`, namespace: ns, name: item.metadata.name,
    file: `offers/${ns}/${item.metadata.name}.yaml`,
    generation: item.status?.specHash ?? '', type: (item.spec as { type?: 'http' | 'inference' } | undefined)?.type,
    conditions, ready,
    operationallyReady: conditions.filter((c) => !['Registered', 'Draining', 'Ready'].includes(c.type)).every((c) => c.status === 'True') && conditions.length > 0,
    path: item.status?.path, drainEndsAt: undefined,
  }
}

/** An Engine whose up() also reports what it applied and pruned. */
export type KubernetesEngine = Omit<Engine, 'up'> & { up(o: StackUpOptions): Promise<KubernetesStackUpResult> }

export function kubernetesEngine(paths: HomePaths, opts: KubernetesEngineOptions = {}): KubernetesEngine {
  const helm = opts.helm ?? runHelm
  let kc: KubeConfig | undefined = opts.kubeConfig
  const config = () => readStackConfig(paths)
  const cluster = () => (kc ??= loadKubeConfig(opts.context ?? config().kubernetes?.context))
  const namespace = () => namespaceFor(cluster(), opts.namespace, config().kubernetes?.namespace ?? 'vend')
  const kubeArgs = () => ['--namespace', namespace(), ...(opts.context ?? config().kubernetes?.context ? ['--kube-context', (opts.context ?? config().kubernetes?.context)!] : [])]
  const api = () => cluster().makeApiClient(CustomObjectsApi)
  const list = async () => ((await api().listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: namespace(), plural: PLURAL })) as { items: ServiceOfferResource[] }).items

  async function helmOrThrow(args: string[], what: string): Promise<HelmResult> {
    const r = await helm(args)
    if (r.code !== 0) throw new HelmError(`${what} failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`, { hint: 'Check the kube context and your permissions, and the chart values in VEND_HOME/kubernetes-values.yaml.' })
    return r
  }

  return {
    async up(o) {
      const c = config()
      const ns = namespace()
      const values = join(paths.root, VALUES_FILE)
      const publicUrl = o.publicUrl ?? c.publicUrl
      const facilitator = o.facilitator ?? c.defaults.facilitator
      await helmOrThrow([
        'upgrade', '--install', RELEASE, CHART_DIR, ...kubeArgs(), '--create-namespace',
        ...(existsSync(values) ? ['-f', values] : []),
        ...(publicUrl ? ['--set-string', `stack.publicUrl=${publicUrl}`] : []),
        ...(facilitator ? ['--set-string', `stack.facilitator=${facilitator}`] : []),
      ], 'helm upgrade --install')
      const offers = await applyOffers(cluster(), ns, listOfferFiles(paths))
      const url = (publicUrl ?? `http://${RELEASE}.${ns}.svc`).replace(/\/+$/, '')
      return {
        alreadyRunning: false, url, listen: `${RELEASE}.${ns}.svc:80`, pid: 0, namespace: ns, offers,
        urls: { storefront: `${url}/`, services: `${url}/api/services.json`, skill: `${url}/skill.md`, dashboard: `${url}/dashboard` },
      }
    },
    async down() {
      const status = await helm(['status', RELEASE, ...kubeArgs()])
      if (status.code !== 0) return { wasRunning: false }
      await helmOrThrow(['uninstall', RELEASE, ...kubeArgs(), '--wait'], 'helm uninstall')
      return { wasRunning: true }
    },
    async status(): Promise<DaemonStatus> {
      try {
        const items = await list()
        return { running: true, offers: items.map(offerStatusOf).sort((a, b) => (a.key < b.key ? -1 : 1)) }
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return { running: false }
        throw err
      }
    },
    async waitForOffer(key, generation, timeoutMs) {
      const name = key.split('/').pop()!
      const deadline = Date.now() + timeoutMs
      for (;;) {
        try {
          const item = await api().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: namespace(), plural: PLURAL, name }) as ServiceOfferResource
          if (item.status?.specHash === generation) return offerStatusOf(item)
        } catch (err) {
          if (!(err instanceof ApiException && err.code === 404)) throw err
        }
        if (Date.now() >= deadline) return undefined
        await new Promise((r) => setTimeout(r, 250))
      }
    },
  }
}
