/**
 * A facilitator over HTTP (x402.org, CDP, a self-hosted one): @x402/core's HTTPFacilitatorClient with optional
 * auth headers from the environment or secret files. Its /supported answer is cached and drives PaymentGateReady.
 */
import { HTTPFacilitatorClient } from '@x402/core/http'
import type { PaymentPayload, PaymentRequirements, SettleResponse, SupportedResponse, VerifyResponse } from '@x402/core/types'
import { readFileSync } from 'node:fs'
import { InvalidInputError, redactUrl } from '../../errors/base.ts'
import type { SecretRef } from '../../offer/schema.ts'
import type { FacilitatorObservation } from '../../reconciler/types.ts'
import { FacilitatorUnavailableError, type Facilitator } from './types.ts'

export type RemoteFacilitatorOptions = {
  url: string
  headers?: Record<string, SecretRef> | undefined
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
}

export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv, what: string): string {
  let value: string | undefined
  if ('env' in ref) value = env[ref.env]
  else {
    try { value = readFileSync(ref.file, 'utf8').trim() } catch { value = undefined }
  }
  if (value === undefined || value === '') {
    throw new InvalidInputError(`The secret for ${what} is missing (${'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`}).`, {
      hint: 'Set it before starting the stack.',
    })
  }
  return `${ref.prefix ?? ''}${value}`
}

/** A /supported kind's network ("eip155:84532", or a wildcard like "eip155:*") covers `caip2`. */
const networkMatches = (kind: string, caip2: string) => kind === caip2 || (kind.endsWith(':*') && caip2.startsWith(kind.slice(0, -1)))

type Failure = Error & { statusCode?: number; invalidReason?: string; invalidMessage?: string; errorReason?: string; errorMessage?: string; payer?: string; transaction?: string; network?: string }

export function createRemoteFacilitator(opts: RemoteFacilitatorOptions): Facilitator {
  const id = redactUrl(opts.url).replace(/\/+$/, '')
  const env = opts.env ?? process.env
  const headerRefs = opts.headers ?? {}
  const authHeaders = () => {
    const h: Record<string, string> = {}
    for (const [k, ref] of Object.entries(headerRefs)) h[k] = resolveSecret(ref, env, `facilitator header ${k}`)
    return h
  }
  const client = new HTTPFacilitatorClient({
    url: opts.url.replace(/\/+$/, ''), timeoutMs: opts.timeoutMs ?? 30_000,
    ...(Object.keys(headerRefs).length ? { createAuthHeaders: async () => { const h = authHeaders(); return { verify: h, settle: h, supported: h } } } : {}),
  })
  let supported: SupportedResponse | undefined
  let reachable: boolean | undefined
  let detail: string | undefined

  const call = async <T>(fn: () => Promise<T>, onRejected: (e: Failure) => T | undefined): Promise<T> => {
    try {
      const out = await fn()
      reachable = true
      return out
    } catch (err) {
      const e = err as Failure
      if (e.name === 'VerifyError' || e.name === 'SettleError') {
        const mapped = onRejected(e)
        if (mapped) return mapped
      }
      reachable = false
      detail = e.message
      throw new FacilitatorUnavailableError(id, err)
    }
  }

  return {
    id,
    verify: (payload: PaymentPayload, req: PaymentRequirements) => call<VerifyResponse>(() => client.verify(payload, req), (e) =>
      (e.statusCode ?? 0) >= 500 ? undefined
        : { isValid: false, invalidReason: e.invalidReason ?? 'unexpected_verify_error', ...(e.invalidMessage ? { invalidMessage: e.invalidMessage } : {}), ...(e.payer ? { payer: e.payer } : {}) }),
    settle: (payload: PaymentPayload, req: PaymentRequirements) => call<SettleResponse>(() => client.settle(payload, req), (e) =>
      (e.statusCode ?? 0) >= 500 ? undefined
        : { success: false, errorReason: e.errorReason ?? 'unexpected_settle_error', ...(e.errorMessage ? { errorMessage: e.errorMessage } : {}), transaction: e.transaction ?? '', network: (e.network ?? req.network) as SettleResponse['network'], ...(e.payer ? { payer: e.payer } : {}) }),
    observe(caip2: string): FacilitatorObservation {
      const base: FacilitatorObservation = { configured: true, url: id, ...(reachable === undefined ? {} : { reachable }) }
      if (!supported) return { ...base, ...(detail ? { detail } : {}) }
      const ok = supported.kinds.some((k) => k.scheme === 'exact' && networkMatches(k.network, caip2))
      return { ...base, supportsNetwork: ok, ...(ok ? {} : { detail: `${id} does not list exact payments on ${caip2}` }), ...(reachable === false && detail ? { detail } : {}) }
    },
    uptoSettler(caip2: string) {
      const kind = supported?.kinds.find((k) => k.scheme === 'upto' && k.x402Version === 2 && networkMatches(k.network, caip2))
      const address = kind?.extra?.['facilitatorAddress']
      return typeof address === 'string' && /^0x[0-9a-fA-F]{40}$/.test(address) ? address : undefined
    },
    async refresh() {
      try {
        supported = await client.getSupported()
        reachable = true
        detail = undefined
      } catch (err) {
        reachable = false
        detail = (err as Error).message
      }
    },
    async close() { /* the SDK client holds no resources */ },
  }
}
