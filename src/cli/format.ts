/** Plain-text rendering for the terminal: condition lists with icons and aligned tables. */
import { conditionIcon } from '../reconciler/conditions.ts'
import type { Condition } from '../reconciler/types.ts'

/** "  ✓ Valid             Valid        The offer file is valid." */
export function conditionLines(conditions: readonly Condition[], indent = '  '): string[] {
  const w1 = Math.max(0, ...conditions.map((c) => c.type.length))
  const w2 = Math.max(0, ...conditions.map((c) => c.reason.length))
  return conditions.map((c) => `${indent}${icon(c)} ${c.type.padEnd(w1)}  ${c.reason.padEnd(w2)}  ${c.message}`)
}

/** Draining is the one condition whose normal state is False: not draining shows ✓, draining ℹ, drained ✗. */
function icon(c: Condition): string {
  if (c.type === 'Draining') return c.status === 'True' ? 'ℹ' : c.reason === 'Drained' ? '✗' : '✓'
  return conditionIcon(c)
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)
}
