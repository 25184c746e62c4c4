/**
 * The engine a command talks to: the injected one (tests), else the one stack.yaml names: the embedded
 * daemon for VEND_HOME (default) or the Kubernetes engine (same offer files, applied as ServiceOffers).
 */
import type { Engine } from '../engine/api.ts'
import { readStackConfig } from '../state/stackConfig.ts'
import type { CliContext } from './context.ts'

export type EngineChoice = { engine: 'embedded' | 'kubernetes'; context?: string; namespace?: string }

export async function engineFor(ctx: CliContext, choice?: EngineChoice): Promise<Engine> {
  if (ctx.engine) return ctx.engine()
  const paths = ctx.paths()
  const config = readStackConfig(paths)
  const engine = choice?.engine ?? config.engine
  if (engine === 'kubernetes') {
    const context = choice?.context ?? config.kubernetes?.context
    const { kubernetesEngine } = await import('../k8s/engine.ts')
    return kubernetesEngine(paths, { ...(context ? { context } : {}), namespace: choice?.namespace ?? config.kubernetes?.namespace ?? 'vend' })
  }
  const { embeddedEngine } = await import('../engine/embedded.ts')
  return embeddedEngine(paths)
}
