/**
 * GET /dashboard: the operator's page, server-rendered HTML with one inline stylesheet and no script. Every value
 * from offers, the ledger or a facilitator goes through escapeHtml. Pure.
 */
import type { Condition } from '../reconciler/types.ts'
import { escapeHtml as e } from '../storefront/html.ts'
import { renderChart } from './chart.ts'
import { RANGES, type Amount, type DashboardSummary, type OfferRow, type PaymentRow, type RangeName, type TokenTotals } from './summary.ts'

const STYLE = `
:root{--bg:#f5f6fa;--card:#fff;--ink:#0f172a;--muted:#64748b;--line:#e5e7eb;--brand:#4f46e5;--ok:#047857;--ok-soft:#d1fae5;--bad:#b91c1c;--bad-soft:#fee2e2;--warn:#b45309;--warn-soft:#fef3c7;--info:#0369a1;--info-soft:#e0f2fe}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--brand);text-decoration:none}a:hover{text-decoration:underline}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
header{background:#0f172a;color:#e2e8f0;padding:18px 0}
.wrap{max-width:1200px;margin:0 auto;padding:0 24px}
header .wrap{display:flex;align-items:center;justify-content:space-between;gap:16px;flex-wrap:wrap}
header h1{margin:0;font-size:18px;font-weight:650;letter-spacing:-.01em}header h1 span{color:#94a3b8;font-weight:500}
header nav{display:flex;gap:14px;font-size:13px}header nav a{color:#cbd5e1}
main{max-width:1200px;margin:0 auto;padding:22px 24px 40px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(165px,1fr));gap:14px;margin-bottom:18px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px}
.kpi .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
.kpi .value{font-size:22px;font-weight:700;margin-top:2px;overflow-wrap:anywhere}
.kpi .value small{font-size:13px;font-weight:600;color:var(--muted)}
.kpi .sub{color:var(--muted);font-size:12.5px}
section.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 18px 14px;margin-bottom:18px;min-width:0}
section.card h2{margin:0;font-size:15px}
.card-head{display:flex;align-items:baseline;justify-content:space-between;gap:12px;flex-wrap:wrap;margin-bottom:10px}
.card-head p{margin:0;color:var(--muted);font-size:12.5px}
.ranges{display:flex;gap:4px}.ranges a{border:1px solid var(--line);border-radius:999px;padding:1px 10px;font-size:12px;color:var(--muted)}
.ranges a.on{background:var(--brand);border-color:var(--brand);color:#fff}
.legend{display:flex;gap:16px;font-size:12.5px;color:var(--muted);margin:4px 0 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.legend .l-req{background:#a5b4fc}.legend .l-rev{background:#059669;border-radius:50%}
svg.chart{width:100%;min-width:600px;height:auto;display:block}
svg.chart .grid{stroke:#eef0f4}
svg.chart .axis{fill:#94a3b8;font-size:11px}
svg.chart .axis-title{fill:#64748b;font-size:11px;font-weight:600}
svg.chart .rev{fill:#047857}
svg.chart .hit{fill:transparent}svg.chart .bucket:hover .hit{fill:#f1f5f9}
svg.chart .bar{fill:#a5b4fc}svg.chart .bucket:hover .bar{fill:#818cf8}
svg.chart .rev-line{fill:none;stroke:#059669;stroke-width:2;stroke-linejoin:round}
svg.chart .pt{fill:#fff;stroke:#059669;stroke-width:2}
.scroll{overflow-x:auto}.scroll table{min-width:760px}.scroll table.offers{min-width:980px}
.scroll.latest{direction:rtl}.scroll.latest>*{direction:ltr}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.04em;white-space:nowrap}
tbody tr:last-child td{border-bottom:0}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}th.num{text-align:right}
.offer-key{font-weight:600}.sub{color:var(--muted);font-size:12.5px}
.badge{display:inline-block;font-size:11.5px;font-weight:600;border-radius:999px;padding:1px 9px;white-space:nowrap}
.b-ok{background:var(--ok-soft);color:var(--ok)}.b-bad{background:var(--bad-soft);color:var(--bad)}.b-warn{background:var(--warn-soft);color:var(--warn)}.b-info{background:var(--info-soft);color:var(--info)}.b-muted{background:#f1f5f9;color:var(--muted)}
.conds{display:flex;gap:4px;flex-wrap:wrap}
.cond{display:inline-flex;align-items:center;gap:4px;font-size:11.5px;border-radius:6px;padding:1px 6px;background:#f8fafc;border:1px solid var(--line);white-space:nowrap}
.cond.ok{color:var(--ok)}.cond.info{color:var(--info)}.cond.bad{color:var(--bad);background:var(--bad-soft);border-color:#fecaca}.cond.wait{color:var(--warn);background:var(--warn-soft);border-color:#fde68a}
.reasons{margin:6px 0 0;padding:0;list-style:none;font-size:12.5px;color:#7f1d1d}.reasons li{margin-top:2px}
.empty{color:var(--muted);padding:18px 4px;text-align:center}
footer{max-width:1200px;margin:0 auto;padding:0 24px 28px;color:var(--muted);font-size:12.5px}
@media (max-width:560px){main{padding:14px 12px 28px}.wrap{padding:0 12px}.kpis{gap:10px}.kpi .value{font-size:18px}section.card{padding:14px 12px 10px}}
`

/** No script at all; inline styles only. */
export const DASHBOARD_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const money = (a: Amount, t: TokenTotals): string => `${e(a.amount)} <small>${e(t.token.symbol)}</small>`

function kpis(s: DashboardSummary): string {
  const tokenLines = (pick: (t: TokenTotals) => Amount, sub: string) => s.totals.length
    ? s.totals.map((t) => `<div class="value">${money(pick(t), t)}</div><div class="sub">${pick(t).count} ${sub} · ${e(t.token.chain)}</div>`).join('')
    : `<div class="value">0</div><div class="sub">no payments yet</div>`
  const requests = s.totals.reduce((n, t) => n + t.settled.count + t.pending.count + t.notCharged.count, 0)
  const ready = s.offers.filter((o) => o.state === 'ready' || o.state === 'published').length
  const listed = s.offers.filter((o) => o.state !== 'removed').length
  return `<div class="kpis">
<div class="kpi" id="kpi-settled"><div class="label">Earned (settled)</div>${tokenLines((t) => t.settled, 'settled')}</div>
<div class="kpi" id="kpi-pending"><div class="label">Pending settlement</div>${tokenLines((t) => t.pending, 'owed')}</div>
<div class="kpi" id="kpi-not-charged"><div class="label">Not charged</div>${tokenLines((t) => t.notCharged, 'not charged')}</div>
<div class="kpi" id="kpi-requests"><div class="label">Paid requests</div><div class="value">${requests}</div><div class="sub">${ready} of ${listed} offer${listed === 1 ? '' : 's'} serving</div></div>
</div>`
}

function chartCard(s: DashboardSummary): string {
  const c = s.chart
  const ranges = (Object.keys(RANGES) as RangeName[]).map((r) => `<a href="?range=${r}"${r === c.range ? ' class="on" aria-current="true"' : ''}>${r}</a>`).join('')
  const revenue = c.token ? `${e(c.token.symbol)} settled on ${e(c.token.chain)}` : 'revenue settled'
  const others = c.otherTokens.length ? ` Also earned in ${e(c.otherTokens.join(', '))} (see the tables).` : ''
  return `<section class="card" id="activity"><div class="card-head"><div><h2>Requests and revenue</h2><p>${e(c.label)} (UTC).${others}</p></div><nav class="ranges">${ranges}</nav></div>
<div class="scroll latest">${renderChart(c)}</div>
<div class="legend"><span><i class="l-req"></i>paid requests</span><span><i class="l-rev"></i>${revenue}</span></div></section>`
}

const STATE_BADGE: Record<OfferRow['state'], string> = {
  ready: '<span class="badge b-ok">ready</span>',
  published: '<span class="badge b-info" title="Serving; ERC-8004 registration pending.">serving</span>',
  'not ready': '<span class="badge b-bad">not ready</span>',
  removed: '<span class="badge b-muted" title="No offer file any more; its payments stay in the ledger.">removed</span>',
}

type Tone = 'ok' | 'info' | 'bad' | 'wait'
const TONE_ICON: Record<Tone, string> = { ok: '✓', info: 'ℹ', bad: '✗', wait: '…' }

/** What a condition means for the operator (as `vend sell status` shows it): Draining is fine while False (not draining). */
function tone(c: Condition): Tone {
  if (c.type === 'Draining') return c.status === 'True' ? 'info' : c.reason === 'Drained' ? 'bad' : 'ok'
  if (c.status === 'True') return c.reason === 'Disabled' || c.reason === 'Skipped' ? 'info' : 'ok'
  return c.status === 'False' ? 'bad' : 'wait'
}

function conditions(cs: readonly Condition[]): string {
  if (!cs.length) return ''
  const chips = cs.map((c) => `<span class="cond ${tone(c)}" title="${e(`${c.type}: ${c.reason}${c.message ? ` — ${c.message}` : ''}`)}" data-condition="${e(c.type)}" data-status="${e(c.status)}">${TONE_ICON[tone(c)]} ${e(c.type)}</span>`).join('')
  const failing = cs.filter((c) => (tone(c) === 'bad' || tone(c) === 'wait') && c.type !== 'Ready')
  const reasons = failing.length ? `<ul class="reasons">${failing.map((c) => `<li><strong>${e(c.type)}</strong> ${e(c.reason)}${c.message ? `: ${e(c.message)}` : ''}</li>`).join('')}</ul>` : ''
  return `<div class="conds">${chips}</div>${reasons}`
}

function earningsCell(o: OfferRow, pick: (t: TokenTotals) => Amount): string {
  if (!o.earnings.length) return '<span class="sub">—</span>'
  return o.earnings.map((t) => (pick(t).count ? `<div>${e(pick(t).amount)} ${e(t.token.symbol)} <span class="sub">(${pick(t).count})</span></div>` : '<div class="sub">—</div>')).join('')
}

function offersCard(s: DashboardSummary): string {
  const rows = s.offers.map((o) => `<tr data-offer="${e(o.key)}">
<td><div class="offer-key">${e(o.key)}</div><div class="sub">${o.path ? `<code>${e(o.path)}</code>` : ''}${o.type ? ` · ${o.type === 'inference' ? 'LLM inference' : 'HTTP API'}` : ''}</div></td>
<td>${STATE_BADGE[o.state]}</td>
<td>${o.price ? `${e(o.price)}<div class="sub">${e(o.network ?? '')}</div>` : '<span class="sub">—</span>'}</td>
<td>${conditions(o.conditions)}</td>
<td class="num earned">${earningsCell(o, (t) => t.settled)}</td>
<td class="num pending">${earningsCell(o, (t) => t.pending)}</td>
</tr>`).join('')
  const body = s.offers.length
    ? `<div class="scroll"><table class="offers"><thead><tr><th>Offer</th><th>State</th><th>Price</th><th>Conditions</th><th class="num">Earned (settled)</th><th class="num">Pending</th></tr></thead><tbody>${rows}</tbody></table></div>`
    : '<div class="empty">No offers yet. Start selling with <code>vend sell http &lt;name&gt; --upstream &lt;url&gt; --price 0.01</code>.</div>'
  return `<section class="card" id="offers"><div class="card-head"><h2>Offers</h2><p>Conditions from the last reconcile pass; hover a chip for its reason.</p></div>${body}</section>`
}

const STATUS_BADGE: Record<string, string> = { settled: 'b-ok', settling: 'b-info', verified: 'b-info', not_charged: 'b-muted', failed: 'b-bad', expired: 'b-warn' }

const short = (v: string): string => (v.length > 18 ? `${v.slice(0, 10)}…${v.slice(-6)}` : v)

function txCell(p: PaymentRow): string {
  if (!p.txHash) return p.error ? `<span class="sub" title="${e(p.error)}">${e(short(p.error))}</span>` : '<span class="sub">—</span>'
  const code = `<code title="${e(p.txHash)}">${e(short(p.txHash))}</code>`
  return p.txUrl ? `<a class="tx" href="${e(p.txUrl)}" rel="noopener noreferrer" target="_blank" data-tx="${e(p.txHash)}">${code}</a>` : `<span class="tx" data-tx="${e(p.txHash)}">${code}</span>`
}

function recentCard(s: DashboardSummary): string {
  const rows = s.recent.map((p) => `<tr data-payment="${p.id}">
<td class="sub"><time datetime="${e(p.createdAt)}">${e(p.createdAt.slice(0, 19).replace('T', ' '))}</time></td>
<td>${e(p.offer)}</td>
<td>${p.payerUrl ? `<a href="${e(p.payerUrl)}" rel="noopener noreferrer" target="_blank"><code title="${e(p.payer)}">${e(short(p.payer))}</code></a>` : `<code title="${e(p.payer)}">${e(short(p.payer))}</code>`}</td>
<td class="num amount">${e(p.amount)} ${e(p.symbol)}</td>
<td><span class="badge ${STATUS_BADGE[p.status] ?? 'b-muted'}">${e(p.status.replace('_', ' '))}</span></td>
<td>${txCell(p)}</td>
</tr>`).join('')
  const body = s.recent.length
    ? `<div class="scroll"><table class="recent"><thead><tr><th>Time (UTC)</th><th>Offer</th><th>Payer</th><th class="num">Amount</th><th>Status</th><th>Transaction</th></tr></thead><tbody>${rows}</tbody></table></div>`
    : '<div class="empty">No payments yet.</div>'
  return `<section class="card" id="payments"><div class="card-head"><h2>Recent payments</h2><p>The ${s.recent.length || ''} newest; everything with <code>vend ledger export</code>.</p></div>${body}</section>`
}

function spentCard(s: DashboardSummary): string {
  if (!s.spent.length) return ''
  const rows = s.spent.flatMap((p) => p.totals.map((t) => `<tr data-purchase="${e(p.purchase)}"><td>${e(p.purchase)}</td><td>${e(t.token.chain)}</td>
<td class="num">${e(t.settled.amount)} ${e(t.token.symbol)} <span class="sub">(${t.settled.count})</span></td>
<td class="num">${e(t.pending.amount)} ${e(t.token.symbol)} <span class="sub">(${t.pending.count})</span></td></tr>`)).join('')
  return `<section class="card" id="spent"><div class="card-head"><h2>Purchases (spent)</h2><p>What this stack paid other sellers through <code>/buy</code>.</p></div>
<div class="scroll"><table><thead><tr><th>Purchase</th><th>Network</th><th class="num">Paid</th><th class="num">Pending</th></tr></thead><tbody>${rows}</tbody></table></div></section>`
}

export function renderDashboardPage(s: DashboardSummary, stackName = 'Vend'): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${e(stackName)} — operator dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header><div class="wrap"><h1>${e(stackName)} <span>· operator dashboard</span></h1>
<nav><a href="/">Storefront</a><a href="/api/services.json">services.json</a><a href="/dashboard/api/summary?range=${s.chart.range}">JSON</a></nav></div></header>
<main>
${kpis(s)}
${chartCard(s)}
${offersCard(s)}
${recentCard(s)}
${spentCard(s)}
</main>
<footer>Generated ${e(s.generatedAt)}. Amounts are exact token amounts from the ledger. Reload for fresh numbers.</footer>
</body>
</html>
`
}
