/**
 * The Engine seam: what the CLI asks of a stack, whichever engine runs it (embedded now, Kubernetes later).
 * Implementations: engine/embedded.ts (one background daemon per VEND_HOME).
 */
import type { OfferStatus } from '../reconciler/types.ts'

export type StackUpOptions = {
  listen?: string
  publicUrl?: string
  facilitator?: string
  /** Start (or reuse) the local dev chain and use the in-process facilitator. */
  dev?: boolean
  devChainId?: number
  /** Use another stack's dev chain (its RPC URL) instead of starting one. */
  devJoin?: string
}

export type StackUpResult = {
  alreadyRunning: boolean
  url: string
  listen: string
  pid: number
  urls: { storefront: string; services: string; skill: string; dashboard: string }
}

export type DaemonStatus = {
  running: boolean
  pid?: number
  listen?: string
  url?: string
  ready?: boolean
  /** Shutting down: in-flight requests are finishing; the socket goes away when it is done. */
  stopping?: boolean
  startedAt?: string
  version?: string
  offers?: OfferStatus[]
  /** Offer files that failed to parse or validate. */
  problems?: { file: string; line?: number | undefined; message: string }[]
  facilitators?: { network: string; url: string; reachable?: boolean; detail?: string }[]
  devChain?: { rpcUrl: string; chainId: number } | undefined
}

export interface Engine {
  up(options: StackUpOptions): Promise<StackUpResult>
  /** Graceful: in-flight requests finish. */
  down(): Promise<{ wasRunning: boolean }>
  status(): Promise<DaemonStatus>
  /** Ask the daemon to reconcile now and resolve once the offer's generation is observed (or timeout). */
  waitForOffer(key: string, generation: string, timeoutMs: number): Promise<OfferStatus | undefined>
}
