/**
 * Benchmark results: one row per measured figure, its baseline from the same run, the ratio and the target from
 * the issues. Written as bench/results/<date>.json, bench/results/latest.json and a markdown table (BENCHMARKS.md).
 */
import { cpus, loadavg, totalmem } from 'node:os'

export type Target = { op: '>=' | '<='; value: number; of: 'ratio' | 'value' }

export type ScenarioRow = {
  name: string
  metric: string
  value: number | null
  baseline: number | null
  ratio: number | null
  /** Human-readable, e.g. ">= 0.9x bare undici req/s". */
  target: string
  pass: boolean | null
  /** Why a figure is missing (skipped scenario) or what it means. */
  note?: string
}

/** A row whose pass is computed from the target on the ratio or the value. */
export function row(name: string, metric: string, value: number, baseline: number | null, target: Target | null, targetText: string, note?: string): ScenarioRow {
  const ratio = baseline !== null && baseline !== 0 ? round(value / baseline, 3) : null
  const subject = target?.of === 'ratio' ? ratio : value
  const pass = target === null || subject === null ? null : target.op === '>=' ? subject >= target.value : subject <= target.value
  return { name, metric, value: round(value, 2), baseline: baseline === null ? null : round(baseline, 2), ratio, target: targetText, pass, ...(note ? { note } : {}) }
}

export function skipped(name: string, metric: string, targetText: string, reason: string): ScenarioRow {
  return { name, metric, value: null, baseline: null, ratio: null, target: targetText, pass: null, note: `skipped: ${reason}` }
}

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits

export function machine(): Record<string, unknown> {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGB: round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}`,
    /** 1-minute load average when the run started: the project machines are shared. */
    loadAvg1m: round(loadavg()[0]!, 2) }
}

const cell = (v: number | null | boolean) => (v === null ? '–' : typeof v === 'boolean' ? (v ? 'pass' : '**FAIL**') : String(v))

export function markdownTable(rows: ScenarioRow[]): string {
  const lines = ['| scenario | metric | value | baseline | ratio | target | result |', '|---|---|---|---|---|---|---|']
  for (const r of rows) lines.push(`| ${r.name} | ${r.metric} | ${cell(r.value)} | ${cell(r.baseline)} | ${r.ratio === null ? '–' : `${r.ratio}x`} | ${r.target} | ${r.note?.startsWith('skipped') ? r.note : cell(r.pass)} |`)
  return lines.join('\n')
}
