/**
 * Shared pieces of the server-rendered pages (storefront and 402 page): escaping, one inline stylesheet, the
 * copy-button script and the Content-Security-Policy that allows exactly that script (by hash) and nothing
 * external. No front-end build, no external assets.
 */
import { createHash } from 'node:crypto'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

const COPY_SCRIPT = `document.addEventListener('click',function(e){var b=e.target.closest('button[data-copy]');if(!b)return;var el=document.getElementById(b.getAttribute('data-copy'));if(!el)return;var t=el.textContent;var done=function(){b.textContent='Copied';b.classList.add('ok');setTimeout(function(){b.textContent='Copy';b.classList.remove('ok')},1500)};if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t).then(done,function(){})}else{var r=document.createRange();r.selectNodeContents(el);var s=getSelection();s.removeAllRanges();s.addRange(r);try{document.execCommand('copy');done()}catch(_){}}});`

const STYLE = `
:root{--bg:#f6f7fb;--card:#fff;--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--brand:#4f46e5;--brand-soft:#eef2ff;--code:#0b1020;--code-ink:#e2e8f0;--warn:#b45309;--warn-soft:#fef3c7;--info:#0369a1;--info-soft:#e0f2fe;--ok:#047857}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--brand);text-decoration:none}a:hover{text-decoration:underline}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:13px}
header.top{background:linear-gradient(135deg,#1e1b4b,#4338ca);color:#fff;padding:36px 0 30px}
header.top .wrap{max-width:1080px;margin:0 auto;padding:0 24px}
header.top.narrow .wrap,footer.narrow{max-width:808px}
header.top h1{margin:0 0 6px;font-size:28px;letter-spacing:-.01em}
header.top p{margin:0;color:#c7d2fe}
header.top a.plain{color:#fff;text-decoration:underline}
.muted{color:var(--muted)}
header.top nav{margin-top:16px;display:flex;flex-wrap:wrap;gap:8px}
header.top nav a{color:#e0e7ff;border:1px solid rgba(255,255,255,.25);border-radius:999px;padding:3px 12px;font-size:13px}
header.top nav a:hover{background:rgba(255,255,255,.1);text-decoration:none}
main{max-width:1080px;margin:0 auto;padding:28px 24px 48px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:20px}
.grid>*{min-width:0}
.card{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:22px;box-shadow:0 1px 2px rgba(15,23,42,.04)}
.card h2{margin:0;font-size:19px}
.head{display:flex;align-items:flex-start;justify-content:space-between;gap:12px}
.badges{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}
.badge{display:inline-block;font-size:12px;font-weight:600;border-radius:999px;padding:2px 10px;background:var(--brand-soft);color:var(--brand)}
.badge.warn{background:var(--warn-soft);color:var(--warn)}
.badge.ok{background:#d1fae5;color:var(--ok)}
.badge.info{background:var(--info-soft);color:var(--info)}
.price{text-align:right;white-space:nowrap}
.price strong{display:block;font-size:20px}
.price span{color:var(--muted);font-size:13px}
.desc{color:#334155;margin:12px 0 14px;overflow-wrap:anywhere}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:6px 14px;margin:0 0 14px;font-size:14px}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto;margin:0 0 14px}
table.routes{width:100%;border-collapse:collapse;font-size:13px}
table.routes th,table.routes td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
table.routes th{color:var(--muted);font-weight:600}
h3{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:16px 0 8px}
.snippet{position:relative;margin:0 0 10px}
.snippet pre{margin:0;background:var(--code);color:var(--code-ink);border-radius:10px;padding:12px 84px 12px 14px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.snippet button{position:absolute;top:8px;right:8px;background:#1e293b;color:#e2e8f0;border:1px solid #334155;border-radius:6px;font-size:12px;padding:3px 10px;cursor:pointer}
.snippet button:hover{background:#334155}.snippet button.ok{color:#6ee7b7;border-color:#047857}
.snippet .label{font-size:12px;color:var(--muted);margin:0 0 4px}
.empty{background:var(--card);border:1px dashed #cbd5e1;border-radius:14px;padding:48px 24px;text-align:center;color:var(--muted)}
.empty strong{display:block;color:var(--ink);font-size:18px;margin-bottom:6px}
footer{max-width:1080px;margin:0 auto;padding:0 24px 32px;color:var(--muted);font-size:13px}
.pay{max-width:760px;margin:0 auto}
.pay .card{padding:26px 28px}
.pay h2{margin-top:14px}
.pay .note{margin-top:0}
.pay .amount{font-size:34px;font-weight:700;letter-spacing:-.02em;margin:6px 0 2px}
.pay .status{display:inline-block;font-size:12px;font-weight:700;letter-spacing:.06em;text-transform:uppercase;color:var(--warn);background:var(--warn-soft);border-radius:999px;padding:3px 10px}
@media (max-width:560px){.grid{grid-template-columns:1fr}.head{flex-direction:column}.price{text-align:left;white-space:normal;overflow-wrap:anywhere}main{padding:20px 14px 36px}.card{padding:18px}.snippet pre{padding-right:14px;padding-top:34px}}
`

const SCRIPT_HASH = createHash('sha256').update(COPY_SCRIPT).digest('base64')

/** CSP for the rendered pages: inline styles, the copy script by hash, nothing else. */
export const PAGE_CSP = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${SCRIPT_HASH}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`

/** A code block with a copy button. `id` must be unique in the page ([a-z0-9-]); `text` is raw (escaped here). */
export function snippet(id: string, label: string, text: string): string {
  return `<div class="snippet"><p class="label">${escapeHtml(label)}</p><pre id="${id}"><code>${escapeHtml(text)}</code></pre><button type="button" data-copy="${id}" aria-label="Copy ${escapeHtml(label)}">Copy</button></div>`
}

const FAVICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#4338ca"/><text x="16" y="23" font-family="Arial,sans-serif" font-size="20" font-weight="700" text-anchor="middle" fill="#fff">V</text></svg>')}`

/** A full HTML document. `body` must already be escaped markup. */
export function page(opts: { title: string; description: string; header: string; body: string; footer: string; narrow?: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)}</title>
<meta name="description" content="${escapeHtml(opts.description)}">
<meta property="og:title" content="${escapeHtml(opts.title)}">
<meta property="og:description" content="${escapeHtml(opts.description)}">
<link rel="icon" href="${FAVICON}">
<style>${STYLE}</style>
</head>
<body>
${opts.header}
<main>
${opts.body}
</main>
<footer${opts.narrow ? ' class="narrow"' : ''}>${opts.footer}</footer>
<script>${COPY_SCRIPT}</script>
</body>
</html>
`
}
