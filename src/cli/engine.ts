/** The engine a command talks to: the injected one (tests) or the embedded daemon engine for VEND_HOME. */
import type { Engine } from '../engine/api.ts'
import type { CliContext } from './context.ts'

export async function engineFor(ctx: CliContext): Promise<Engine> {
  if (ctx.engine) return ctx.engine()
  const { embeddedEngine } = await import('../engine/embedded.ts')
  return embeddedEngine(ctx.paths())
}
