/**
 * After an offer file is written: say so (stderr), and when the daemon runs, wait until it reconciled the
 * new generation and show the offer's conditions. A stopped stack picks the file up at the next `stack up`.
 */
import type { CliContext } from '../context.ts'
import { engineFor } from '../engine.ts'
import { conditionLines } from '../format.ts'

export type Written = { key: string; namespace: string; name: string; created: boolean; generation: string }

const WAIT_MS = 15_000

export async function announce(ctx: CliContext, written: Written[], wait: boolean): Promise<void> {
  for (const w of written) ctx.io.err(`✓ ${w.created ? 'Created' : 'Updated'} offer ${w.key}`)
  if (!wait || written.length === 0) return
  const engine = await engineFor(ctx)
  if (!(await engine.status()).running) {
    ctx.io.err('The stack is not running; the offer is served after `vend stack up`.')
    return
  }
  for (const w of written) {
    const status = await engine.waitForOffer(w.key, w.generation, WAIT_MS)
    if (!status) {
      ctx.io.err(`… ${w.key} was not reconciled within ${WAIT_MS / 1000} s; check \`vend sell status ${w.name} -n ${w.namespace}\` and \`vend stack logs\`.`)
      continue
    }
    if (written.length > 1) ctx.io.err(`${w.key}:`)
    ctx.io.err(conditionLines(status.conditions).join('\n'))
  }
}
