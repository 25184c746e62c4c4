/** `vend sell earnings [name]`: what the stack earned, by offer and payment status, from the ledger (read-only). */
import type { Command } from 'commander'
import { formatAtomic } from '../../offer/price.ts'
import { assetDecimals } from '../../payments/buyer.ts'
import { readSummary } from '../../payments/ledger/readLedger.ts'
import { assertName } from '../../state/home.ts'
import type { CliContext } from '../context.ts'
import { json, table } from '../format.ts'

export function register(program: Command, ctx: CliContext): void {
  const sell = program.commands.find((c) => c.name() === 'sell') ?? program.command('sell').description('Create and manage offers (what this stack sells).')
  sell.command('earnings')
    .description('Sum payments by offer and status (settled = earned).')
    .argument('[name]', 'only this offer')
    .option('-n, --namespace <ns>', 'namespace of the offer', 'default')
    .option('--json', 'print the rows as JSON (amounts in atomic units and decimal)')
    .addHelpText('after', `
Examples:
  vend sell earnings
  vend sell earnings weather --json`)
    .action(async (name: string | undefined, flags: { namespace: string; json?: boolean }) => {
      const offer = name ? `${assertName(flags.namespace, 'namespace', '--namespace')}/${assertName(name, 'offer name')}` : undefined
      const rows = (await readSummary(ctx.paths(), offer)).map((r) => {
        const decimals = assetDecimals(r.network, r.asset)
        return { offer: r.offer, status: r.status, count: r.count, amount: formatAtomic(r.amount, decimals), amountAtomic: r.amount.toString(), asset: r.asset, network: r.network }
      })
      if (flags.json) { ctx.io.out(json(rows)); return }
      if (!rows.length) { ctx.io.err(offer ? `No payments for ${offer} yet.` : 'No payments yet.'); return }
      ctx.io.out(table(['OFFER', 'STATUS', 'PAYMENTS', 'AMOUNT', 'NETWORK'], rows.map((r) => [r.offer, r.status, String(r.count), r.amount, r.network])))
    })
}
