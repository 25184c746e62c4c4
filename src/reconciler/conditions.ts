/** Condition helpers: build, look up, and keep lastTransitionTime stable across reconcile passes. */
import type { Condition, ConditionStatus, ConditionType } from './types.ts'

export const cond = (type: ConditionType, status: ConditionStatus, reason: string, message: string): Condition =>
  ({ type, status, reason, message })

export function getCondition(conditions: readonly Condition[], type: ConditionType): Condition | undefined {
  return conditions.find((c) => c.type === type)
}

export function isTrue(conditions: readonly Condition[], type: ConditionType): boolean {
  return getCondition(conditions, type)?.status === 'True'
}

/** lastTransitionTime moves only when a condition's status flips. */
export function stampTransitions(next: Condition[], previous: readonly Condition[] | undefined, nowIso: string): Condition[] {
  return next.map((c) => {
    const prev = previous && getCondition(previous, c.type)
    return { ...c, lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : nowIso }
  })
}

/** Icons used by the CLI: ✓ True, ✗ False, … Unknown; informational True (Disabled/Skipped) gets ℹ. */
export function conditionIcon(c: Condition): string {
  if (c.status === 'True') return c.reason === 'Disabled' || c.reason === 'Skipped' ? 'ℹ' : '✓'
  return c.status === 'False' ? '✗' : '…'
}
