/** `vend ledger export`: every payment in the ledger as CSV or JSON (read-only; amounts in atomic units). */
import type { Command } from 'commander'
import { InvalidInputError } from '../../errors/base.ts'
import { readPayments } from '../../payments/ledger/readLedger.ts'
import type { PaymentRecord } from '../../payments/ledger/types.ts'
import type { CliContext } from '../context.ts'
import { json } from '../format.ts'

const COLUMNS = [
  'id', 'direction', 'offer', 'route', 'resource', 'network', 'asset', 'payer', 'payTo', 'nonce', 'amount', 'chargedAmount',
  'status', 'settlement', 'txHash', 'error', 'promptTokens', 'completionTokens', 'createdAt', 'updatedAt', 'settledAt',
] as const

type ExportRow = Record<(typeof COLUMNS)[number], string | number | undefined>

const exportRow = (r: PaymentRecord): ExportRow => ({
  id: r.id, direction: r.direction, offer: r.offer, route: r.route, resource: r.resource, network: r.network, asset: r.asset,
  payer: r.payer, payTo: r.payTo, nonce: r.nonce, amount: r.amount.toString(), chargedAmount: r.chargedAmount?.toString(),
  status: r.status, settlement: r.settlement, txHash: r.txHash, error: r.error, promptTokens: r.promptTokens,
  completionTokens: r.completionTokens, createdAt: r.createdAt, updatedAt: r.updatedAt, settledAt: r.settledAt,
})

function csvCell(v: string | number | undefined): string {
  if (v === undefined) return ''
  const s = String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function register(program: Command, ctx: CliContext): void {
  const ledger = program.command('ledger').description('The payment ledger.')
  ledger.command('export')
    .description('Print every payment (CSV or JSON).')
    .option('--format <format>', 'csv or json', 'csv')
    .option('--offer <namespace/name>', 'only this offer')
    .addHelpText('after', `
Examples:
  vend ledger export > payments.csv
  vend ledger export --format json --offer default/weather`)
    .action(async (flags: { format: string; offer?: string }) => {
      if (flags.format !== 'csv' && flags.format !== 'json') throw new InvalidInputError(`Invalid --format "${flags.format}".`, { hint: 'Use csv or json.' })
      const rows = (await readPayments(ctx.paths(), flags.offer)).map(exportRow)
      if (flags.format === 'json') { ctx.io.out(json(rows)); return }
      ctx.io.out([COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n'))
    })
}
