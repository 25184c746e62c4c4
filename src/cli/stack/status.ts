/** `vend stack status`: the daemon, its offers, and offer files that fail to load (path, line, reason). */
import type { CliContext } from '../context.ts'
import { json, table } from '../format.ts'
import { loadOffers, rowJson } from '../offerRows.ts'

export async function printStatus(ctx: CliContext, asJson: boolean): Promise<void> {
  const { daemon, rows } = await loadOffers(ctx, { all: true })
  const problems = rows.filter((r) => r.problem).map((r) => ({ file: r.problem!.file, line: r.problem!.line ?? null, message: r.problem!.message }))
  if (asJson) {
    const { offers: _offers, problems: _problems, ...rest } = daemon
    return ctx.io.out(json({ ...rest, home: ctx.paths().root, offers: rows.map(rowJson), problems }))
  }
  const lines: string[] = []
  if (daemon.running) {
    lines.push(
      `Stack:        running (pid ${daemon.pid ?? '?'}${daemon.startedAt ? `, since ${daemon.startedAt}` : ''})${daemon.ready === false ? ', not ready yet' : ''}`,
      `URL:          ${daemon.url ?? '-'}`,
      `Listen:       ${daemon.listen ?? '-'}`,
    )
    if (daemon.devChain) lines.push(`Dev chain:    ${daemon.devChain.rpcUrl} (chain id ${daemon.devChain.chainId})`)
    for (const f of daemon.facilitators ?? []) {
      lines.push(`Facilitator:  ${f.network} ${f.url}${f.reachable === false ? ` (unreachable${f.detail ? `: ${f.detail}` : ''})` : ''}`)
    }
  } else {
    lines.push('Stack:        not running (start it with `vend stack up`)')
  }
  lines.push(`Home:         ${ctx.paths().root}`)
  const ready = rows.filter((r) => r.ready).length
  lines.push(`Offers:       ${rows.length}${daemon.running ? ` (${ready} ready)` : ''}`)
  if (rows.length) {
    lines.push(table(['', 'OFFER', 'READY', 'PRICE', 'ENDPOINT'], rows.filter((r) => !r.problem).map((r) => [
      '', r.key, r.conditions.find((c) => c.type === 'Ready')?.status ?? '-', r.price ?? '-', r.endpoint ?? '-',
    ])).split('\n').map((l) => `  ${l.trimStart()}`).join('\n'))
  }
  if (problems.length) {
    lines.push(`Problems:     ${problems.length} offer file${problems.length === 1 ? '' : 's'} failed to load`)
    for (const p of problems) lines.push(`  ✗ ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`)
  }
  ctx.io.out(lines.join('\n'))
}
