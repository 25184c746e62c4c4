/**
 * The requests/revenue chart as inline SVG (no script): a bar per bucket for paid requests (left axis) and a line
 * with a point per bucket for settled revenue (right axis). Every bucket is a <g class="bucket"> carrying its
 * start, request count and exact revenue as data attributes, with a native tooltip (<title>). Pure.
 */
import { formatAtomic } from '../offer/price.ts'
import { escapeHtml as e } from '../storefront/html.ts'
import type { Chart } from './summary.ts'

const W = 960
const H = 280
const PAD = { left: 48, right: 84, top: 20, bottom: 34 }
const PLOT_W = W - PAD.left - PAD.right
const PLOT_H = H - PAD.top - PAD.bottom

/** An axis maximum of four equal "nice" steps (1, 2, 5 × 10^k each) covering `n`; at least 4. */
function axisMax(n: bigint): bigint {
  const need = n <= 4n ? 1n : (n + 3n) / 4n
  let step = 1n
  while (step * 10n < need) step *= 10n
  for (const m of [1n, 2n, 5n, 10n]) if (step * m >= need) return step * m * 4n
  return step * 40n
}

/** y of `value` on an axis from 0 to `max` (bigint ratio to pixels; the money itself stays exact). */
const yOf = (value: bigint, max: bigint): number => PAD.top + PLOT_H - Number((value * 10_000n) / max) / 10_000 * PLOT_H

function timeLabel(iso: string, bucketSeconds: number): string {
  return bucketSeconds >= 86_400 ? iso.slice(5, 10) : bucketSeconds >= 6 * 3600 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16)
}

export function renderChart(chart: Chart): string {
  const n = chart.buckets.length
  const slot = PLOT_W / n
  const maxReq = axisMax(BigInt(Math.max(0, ...chart.buckets.map((b) => b.requests))))
  const maxRevAtomic = chart.buckets.reduce((m, b) => (BigInt(b.revenueAtomic) > m ? BigInt(b.revenueAtomic) : m), 0n)
  const revMax = axisMax(maxRevAtomic)
  const fmtRev = (atomic: bigint): string => formatAtomic(atomic, chart.token?.decimals ?? 0)
  const grid = [0n, 1n, 2n, 3n, 4n].map((i) => {
    const y = yOf(i, 4n).toFixed(1)
    return `<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}"/>`
      + `<text class="axis" x="${PAD.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${(maxReq * i) / 4n}</text>`
      + (chart.token ? `<text class="axis rev" x="${W - PAD.right + 8}" y="${y}" dominant-baseline="middle">${e(fmtRev((revMax * i) / 4n))}</text>` : '')
  }).join('')
  const every = Math.max(1, Math.ceil(n / 8))
  const ticks = chart.buckets.map((b, i) => (i % every === 0 || i === n - 1) && (i === n - 1 || n - 1 - i >= every / 2)
    ? `<text class="axis" x="${(PAD.left + slot * (i + 0.5)).toFixed(1)}" y="${H - 12}" text-anchor="middle">${e(timeLabel(b.start, chart.bucketSeconds))}</text>` : '').join('')
  const points = chart.buckets.map((b, i) => ({ x: PAD.left + slot * (i + 0.5), y: yOf(BigInt(b.revenueAtomic), revMax) }))
  const line = `<polyline class="rev-line" points="${points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')}"/>`
  const symbol = chart.token?.symbol ?? ''
  const bars = chart.buckets.map((b, i) => {
    const x = PAD.left + slot * i
    const y = yOf(BigInt(b.requests), maxReq)
    const barW = Math.max(1, slot * 0.7)
    const tip = `${b.start}: ${b.requests} paid request${b.requests === 1 ? '' : 's'}, ${b.revenue} ${symbol} settled`
    return `<g class="bucket${b.requests ? ' has' : ''}" data-start="${e(b.start)}" data-requests="${b.requests}" data-revenue="${e(b.revenue)}" data-revenue-atomic="${e(b.revenueAtomic)}"><title>${e(tip)}</title>`
      + `<rect class="hit" x="${x.toFixed(1)}" y="${PAD.top}" width="${slot.toFixed(1)}" height="${PLOT_H}"/>`
      + (b.requests ? `<rect class="bar" x="${(x + (slot - barW) / 2).toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${(PAD.top + PLOT_H - y).toFixed(1)}" rx="2"/>` : '')
      + (b.revenueAtomic !== '0' ? `<circle class="pt" cx="${points[i]!.x.toFixed(1)}" cy="${points[i]!.y.toFixed(1)}" r="3.5"/>` : '')
      + '</g>'
  }).join('')
  const revTitle = chart.token ? chart.token.symbol : 'revenue'
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Paid requests and revenue, ${e(chart.label)}" xmlns="http://www.w3.org/2000/svg">
${grid}${ticks}${bars}${line}
<text class="axis-title" x="${PAD.left}" y="${PAD.top - 4}">requests</text><text class="axis-title rev" x="${W - 2}" y="${PAD.top - 4}" text-anchor="end">${e(revTitle)}</text>
</svg>`
}
