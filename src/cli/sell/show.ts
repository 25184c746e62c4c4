/** `vend sell list` and `vend sell status <name>`: read-only views of the offers and their conditions. */
import type { Command } from 'commander'
import { BaseError } from '../../errors/base.ts'
import { assertName } from '../../state/home.ts'
import type { CliContext } from '../context.ts'
import { conditionLines, json, table } from '../format.ts'
import { loadOffers, rowJson, type OfferRow } from '../offerRows.ts'

type ListFlags = { namespace?: string; allNamespaces?: boolean; json?: boolean }

export function addSellList(sell: Command, ctx: CliContext): void {
  sell.command('list').alias('ls')
    .description('List offers with their endpoint, price and readiness.')
    .option('-n, --namespace <namespace>', 'namespace to list (default: default)')
    .option('-A, --all-namespaces', 'list offers in every namespace')
    .option('--json', 'print a JSON array')
    .addHelpText('after', `
Examples:
  vend sell list -A
  vend sell list -n team-a --json`)
    .action(async (flags: ListFlags) => {
      if (flags.namespace !== undefined) assertName(flags.namespace, 'namespace', '--namespace')
      const { daemon, rows } = await loadOffers(ctx, { namespace: flags.namespace, all: flags.allNamespaces })
      if (flags.json) return ctx.io.out(json(rows.map(rowJson)))
      if (rows.length === 0) {
        ctx.io.err(`No offers${flags.allNamespaces ? '' : ` in namespace ${flags.namespace ?? 'default'}`}. Create one with \`vend sell http\`.`)
        return
      }
      ctx.io.out(table(
        ['NAMESPACE', 'NAME', 'TYPE', 'PRICE', 'NETWORK', 'READY', 'ENDPOINT / PROBLEM'],
        rows.map((r) => [r.namespace, r.name, r.offer?.spec.type ?? '-', r.price ?? '-', r.resolved?.chain.name ?? '-', readyText(r), lastColumn(r)]),
      ))
      if (!daemon.running) ctx.io.err('The stack is not running; start it with `vend stack up`.')
    })
}

function readyText(r: OfferRow): string {
  if (r.problem) return 'Invalid'
  const ready = r.conditions.find((c) => c.type === 'Ready')
  return ready?.status === 'True' ? 'True' : ready?.status === 'Unknown' ? 'Unknown' : 'False'
}

function lastColumn(r: OfferRow): string {
  if (r.problem) return `${r.problem.file}${r.problem.line ? `:${r.problem.line}` : ''}: ${r.problem.message}`
  return r.endpoint ?? r.resolved?.path ?? '-'
}

export function addSellStatus(sell: Command, ctx: CliContext): void {
  sell.command('status')
    .description('Show one offer: endpoint, payment terms and conditions.')
    .argument('<name>', 'offer name')
    .option('-n, --namespace <namespace>', 'namespace of the offer (default: default)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Examples:
  vend sell status weather
  vend sell status search -n team-a --json`)
    .action(async (name: string, flags: ListFlags) => {
      assertName(name, 'offer name')
      const namespace = flags.namespace === undefined ? 'default' : assertName(flags.namespace, 'namespace', '--namespace')
      const { rows } = await loadOffers(ctx, { namespace, name })
      const row = rows[0]
      if (!row) {
        throw new BaseError(`Offer ${namespace}/${name} does not exist.`, { hint: 'Run `vend sell list -A` to see the offers.' })
      }
      if (flags.json) {
        return ctx.io.out(json({ ...rowJson(row), agentId: row.status?.agentId ?? null, registrationTxHash: row.status?.registrationTxHash ?? null, drainEndsAt: row.status?.drainEndsAt ?? null }))
      }
      ctx.io.out(details(row).join('\n'))
    })
}

function details(row: OfferRow): string[] {
  const r = row.resolved
  const o = row.offer
  const lines = [`Offer:       ${row.key}`, `File:        ${row.file}`]
  if (o) lines.push(`Type:        ${o.spec.type}`)
  if (r) {
    lines.push(
      `Endpoint:    ${row.endpoint ?? r.path}`,
      `Upstream:    ${o?.spec.upstream?.url ?? o?.spec.model?.file ?? '-'}`,
      `Network:     ${r.chain.name} (${r.chain.caip2})`,
      `Asset:       ${r.asset.symbol} ${r.asset.address}`,
      `Price:       ${row.price}`,
      `Pay to:      ${r.offer.spec.payment.payTo}`,
    )
    for (const rt of r.routes) lines.push(`Route:       ${r.path}${rt.path}  ${rt.gate === 'free' ? 'free' : `${rt.price.decimal} ${r.asset.symbol}`}`)
    if (row.status?.drainEndsAt) lines.push(`Draining:    until ${row.status.drainEndsAt}`)
    if (row.status?.agentId) lines.push(`Agent ID:    ${row.status.agentId}`)
    if (row.status?.registrationTxHash) lines.push(`Registered:  ${row.status.registrationTxHash}`)
  }
  if (row.problem) lines.push(`Problem:     ${row.problem.file}${row.problem.line ? `:${row.problem.line}` : ''}: ${row.problem.message}`)
  lines.push('Conditions:', ...conditionLines(row.conditions))
  return lines
}
