/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews renewTime; another
 * candidate takes the Lease over only after leaseDurationSeconds without renewal. Every write carries the
 * resourceVersion it read, so two candidates racing for an expired Lease cannot both win (the loser gets 409).
 */
import { ApiException, CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node'

export type LeaderElector = { start(): void; stop(): Promise<void>; isLeader(): boolean; tryOnce(): Promise<boolean> }

export type LeaderElectionOptions = {
  kc: KubeConfig
  namespace: string
  name: string
  identity: string
  leaseSeconds?: number
  renewMs?: number
  onChange: (leader: boolean) => void
  onError?: (err: unknown) => void
}

const conflictOrMissing = (err: unknown) => err instanceof ApiException && (err.code === 409 || err.code === 404)

export function createLeaderElector(o: LeaderElectionOptions): LeaderElector {
  const api = o.kc.makeApiClient(CoordinationV1Api)
  const leaseSeconds = o.leaseSeconds ?? 15
  const ref = { name: o.name, namespace: o.namespace }
  let leader = false
  let timer: NodeJS.Timeout | undefined
  let stopped = true

  const set = (v: boolean) => { if (v !== leader) { leader = v; o.onChange(v) } }

  async function acquireOrRenew(): Promise<boolean> {
    const now = new Date()
    let lease: V1Lease
    try {
      lease = await api.readNamespacedLease(ref)
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err
      try {
        await api.createNamespacedLease({ namespace: o.namespace, body: { metadata: { name: o.name }, spec: { holderIdentity: o.identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } } })
        return true
      } catch (e) { if (conflictOrMissing(e)) return false; throw e }
    }
    const spec = lease.spec ?? {}
    const mine = spec.holderIdentity === o.identity
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0
    const expired = !spec.holderIdentity || renewed + (spec.leaseDurationSeconds ?? leaseSeconds) * 1000 <= now.getTime()
    if (!mine && !expired) return false
    const next: V1Lease = {
      ...lease,
      spec: mine
        ? { ...spec, renewTime: now, leaseDurationSeconds: leaseSeconds }
        : { holderIdentity: o.identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 },
    }
    try {
      await api.replaceNamespacedLease({ ...ref, body: next })
      return true
    } catch (e) { if (conflictOrMissing(e)) return false; throw e }
  }

  async function tryOnce(): Promise<boolean> {
    try { set(await acquireOrRenew()) } catch (err) { o.onError?.(err); set(false) }
    return leader
  }

  const loop = async () => {
    await tryOnce()
    if (!stopped) timer = setTimeout(loop, o.renewMs ?? Math.max(1000, (leaseSeconds * 1000) / 3))
  }

  return {
    start() { if (stopped) { stopped = false; void loop() } },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      if (!leader) return
      // release: the next candidate need not wait for the lease to run out
      try {
        const lease = await api.readNamespacedLease(ref)
        if (lease.spec?.holderIdentity === o.identity) await api.replaceNamespacedLease({ ...ref, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } } })
      } catch (err) { o.onError?.(err) }
      set(false)
    },
    isLeader: () => leader,
    tryOnce,
  }
}
