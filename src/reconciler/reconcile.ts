/**
 * The reconciler: a pure function from (offer files, observations of the world) to per-offer status
 * conditions, the gateway's route table and the discovery catalog. No I/O, no clock: `obs.now` is an input.
 * The embedded engine and the Kubernetes controller both call it, so one file gives the same conditions
 * whichever engine runs it.
 */
import { OfferInvalidError, reservedPathReason, resolveOffer, type ResolvedOffer } from '../offer/resolveOffer.ts'
import { cond, getCondition, stampTransitions } from './conditions.ts'
import type {
  CatalogEntry, Condition, DesiredOffer, Observations, OfferStatus, ReconcileResult, RouteEntry,
} from './types.ts'

type Candidate = { d: DesiredOffer; r: ResolvedOffer }

export function reconcile(desired: readonly DesiredOffer[], obs: Observations): ReconcileResult {
  const nowIso = new Date(obs.now).toISOString()
  const statuses = new Map<string, OfferStatus>()
  const resolved = new Map<string, ResolvedOffer>()
  const routes: RouteEntry[] = []
  const catalog: CatalogEntry[] = []

  // 1. Validate and resolve every offer on its own; invalid ones get their status right away.
  const valid: Candidate[] = []
  for (const d of desired) {
    if (!d.offer) {
      statuses.set(d.key, finish(d, undefined, [cond('Valid', 'False', 'InvalidSpec', locate(d.problem.line, d.problem.message))], obs, nowIso))
      continue
    }
    try {
      const r = resolveOffer(d.offer)
      resolved.set(d.key, r)
      valid.push({ d, r })
    } catch (err) {
      const message = err instanceof OfferInvalidError ? err.problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ') : String(err)
      statuses.set(d.key, finish(d, undefined, [cond('Valid', 'False', 'InvalidSpec', message)], obs, nowIso))
    }
  }

  // 2. Path ownership: the oldest offer (then key order) wins a path; reserved paths are never published.
  const owner = new Map<string, Candidate>()
  for (const c of [...valid].sort((a, b) => a.d.createdAt - b.d.createdAt || (a.d.key < b.d.key ? -1 : 1))) {
    if (!reservedPathReason(c.r.path) && !drained(c.r, obs.now) && !owner.has(c.r.path)) owner.set(c.r.path, c)
  }

  // 3. Conditions, routes and catalog entries per valid offer.
  for (const c of valid) {
    const { d, r } = c
    const conditions: Condition[] = [cond('Valid', 'True', 'Valid', 'The offer file is valid.')]
    const inference = r.offer.spec.type === 'inference'

    let modelOk = true
    if (inference) {
      const m = obs.model.get(d.key)
      conditions.push(m
        ? cond('ModelReady', m.ready ? 'True' : 'False', m.reason, m.message)
        : cond('ModelReady', 'Unknown', 'Checking', `Checking that model ${r.offer.spec.model?.name} is available.`))
      modelOk = m?.ready === true
    }

    const h = obs.health.get(d.key)
    const healthPath = r.offer.spec.upstream?.healthPath ?? '/health'
    conditions.push(!h
      ? cond('UpstreamHealthy', 'Unknown', 'Probing', 'The upstream has not been checked yet.')
      : h.healthy
        ? cond('UpstreamHealthy', 'True', 'Healthy', `The upstream answered HTTP ${h.status ?? 200} on ${healthPath}.`)
        : cond('UpstreamHealthy', 'False', 'Unhealthy', h.status ? `The upstream answered HTTP ${h.status} on ${healthPath}; only 2xx counts as healthy.` : `The upstream did not answer on ${healthPath}: ${h.error ?? 'no response'}.`))

    const f = obs.facilitatorFor(r.chain.caip2, r.offer)
    const gateOk = f.configured && f.supportsNetwork !== false
    conditions.push(!f.configured
      ? cond('PaymentGateReady', 'False', 'NoFacilitator', `No facilitator is configured for ${r.chain.name} (${r.chain.caip2}); run \`vend stack up --facilitator <url>\` or set defaults.facilitator in stack.yaml.`)
      : f.supportsNetwork === false
        ? cond('PaymentGateReady', 'False', 'NetworkNotSupported', `The facilitator ${f.url ?? ''} does not support exact payments on ${r.chain.caip2}.`.replace('  ', ' '))
        : cond('PaymentGateReady', 'True', 'Ready', `${r.price.decimal} ${r.asset.symbol} ${r.price.unit === 'perMTok' ? 'per million tokens' : 'per request'} on ${r.chain.name}, paid to ${r.offer.spec.payment.payTo}${f.url ? ` via ${f.url}` : ''}.`))

    const drainState = r.drainAt === undefined || obs.now < r.drainAt ? 'active' : obs.now < (r.drainEndsAt ?? 0) ? 'draining' : 'drained'
    const drainEnds = r.drainEndsAt === undefined ? undefined : new Date(r.drainEndsAt).toISOString()
    conditions.push(drainState === 'active'
      ? cond('Draining', 'False', 'Active', r.drainAt === undefined ? 'The offer is not draining.' : `Draining starts at ${new Date(r.drainAt).toISOString()}.`)
      : drainState === 'draining'
        ? cond('Draining', 'True', 'Draining', `Serving until the drain ends at ${drainEnds}.`)
        : cond('Draining', 'False', 'Drained', `The drain ended at ${drainEnds}; the route is gone. Delete the offer with \`vend sell delete ${d.name} -n ${d.namespace}\`.`))

    const reserved = reservedPathReason(r.path)
    const winner = owner.get(r.path)
    let published = false
    if (reserved) conditions.push(cond('RoutePublished', 'False', 'ReservedPath', `${reserved}; set spec.path to something like /services/${d.name}.`))
    else if (drainState === 'drained') conditions.push(cond('RoutePublished', 'False', 'Drained', 'The drain has ended.'))
    else if (winner && winner.d.key !== d.key) conditions.push(cond('RoutePublished', 'False', 'PathConflict', `${r.path} is already served by the older offer ${winner.d.key}; choose another --path.`))
    else if (!gateOk) conditions.push(cond('RoutePublished', 'False', 'WaitingForPaymentGate', 'The route is published once payments can be taken.'))
    else {
      published = true
      conditions.push(cond('RoutePublished', 'True', 'Published', `Serving at ${r.path}.`))
    }

    const reg = r.offer.spec.registration
    const ro = obs.registration.get(d.key)
    conditions.push(!reg.enabled
      ? cond('Registered', 'True', 'Disabled', 'ERC-8004 registration is off for this offer.')
      : ro?.agentId !== undefined && ro.uriMatches
        ? cond('Registered', 'True', 'Registered', `Registered as agent ${ro.agentId} on ${r.chain.name}.`)
        : ro?.pendingReason
          ? cond('Registered', 'False', ro.pendingReason, ro.pendingMessage ?? 'Waiting for registration.')
          : cond('Registered', 'False', 'Pending', `Not registered on ${r.chain.name} yet; run \`vend sell register --chain ${r.chain.name}\` to finish.`))

    const upstreamOk = h?.healthy === true && modelOk
    if (published) routes.push({ key: d.key, path: r.path, resolved: r, state: upstreamOk ? 'serving' : 'unhealthy', draining: drainState === 'draining' })

    const status = finish(d, r, conditions, obs, nowIso, drainState === 'draining' ? drainEnds : undefined, ro)
    statuses.set(d.key, status)
    if (status.operationallyReady) catalog.push({ key: d.key, resolved: r, status, registrationPending: reg.enabled && getCondition(conditions, 'Registered')?.status !== 'True', createdAt: d.createdAt })
  }

  routes.sort((a, b) => (a.key < b.key ? -1 : 1))
  catalog.sort((a, b) => (a.key < b.key ? -1 : 1))
  return { statuses, routes, catalog, resolved }
}

function locate(line: number | undefined, message: string): string {
  return line ? `line ${line}: ${message}` : message
}

function drained(r: ResolvedOffer, now: number): boolean {
  return r.drainEndsAt !== undefined && now >= r.drainEndsAt
}

const OPERATIONAL = new Set(['Valid', 'ModelReady', 'UpstreamHealthy', 'PaymentGateReady', 'RoutePublished'])

function finish(
  d: DesiredOffer, r: ResolvedOffer | undefined, conditions: Condition[], obs: Observations, nowIso: string,
  drainEndsAt?: string, ro?: { agentId?: string; txHash?: string },
): OfferStatus {
  // Draining=True is informational; Draining=False/Drained blocks readiness through RoutePublished already.
  const blocking = conditions.filter((c) => c.type !== 'Draining' && c.status !== 'True')
  const ready = blocking.length === 0
  const all = [...conditions, ready
    ? cond('Ready', 'True', 'Ready', 'The offer is live.')
    : cond('Ready', 'False', 'NotReady', `Waiting for ${blocking.map((c) => c.type).join(', ')}.`)]
  const operationallyReady = conditions.length > 1 && conditions.every((c) => !OPERATIONAL.has(c.type) || c.status === 'True')
  return {
    key: d.key,
    namespace: d.namespace,
    name: d.name,
    file: d.file,
    generation: d.generation,
    type: d.offer?.spec.type,
    conditions: stampTransitions(all, obs.previous.get(d.key)?.conditions, nowIso),
    ready,
    operationallyReady,
    path: r?.path,
    drainEndsAt,
    agentId: ro?.agentId,
    registrationTxHash: ro?.txHash,
  }
}
