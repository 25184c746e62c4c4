/** The engine a command talks to: the injected one (tests) or the embedded daemon engine for VEND_HOME. */
import { fileURLToPath } from 'node:url'
import type { Engine } from '../engine/api.ts'
import type { CliContext } from './context.ts'

/** bin/vend of this checkout: the embedded engine spawns `<binPath> serve` for the background daemon. */
export const VEND_BIN = fileURLToPath(new URL('../../bin/vend', import.meta.url))

type EmbeddedModule = { embeddedEngine: (paths: ReturnType<CliContext['paths']>, opts: { binPath?: string }) => Engine }

export async function engineFor(ctx: CliContext): Promise<Engine> {
  if (ctx.engine) return ctx.engine()
  const spec = '../engine/embedded.ts'
  const { embeddedEngine } = (await import(spec)) as EmbeddedModule
  return embeddedEngine(ctx.paths(), { binPath: VEND_BIN })
}
