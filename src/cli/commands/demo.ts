/**
 * `vend demo`: a buyer pays a seller on a local chain, in one command. Starts (or reuses) the stack with its dev
 * chain, serves the built-in demo offer, calls it unpaid (the 402) and paid (the dev buyer), and shows the
 * transaction and both balances before and after. The stack keeps running.
 */
import type { Command } from 'commander'
import type { DemoSummary } from '../../demo/runDemo.ts'
import type { CliContext } from '../context.ts'
import { engineFor } from '../engine.ts'
import { json, table } from '../format.ts'

export function register(program: Command, ctx: CliContext): void {
  program.command('demo')
    .description('Watch a buyer pay a seller: start the stack with a local dev chain, sell a demo API for 0.001 USDC, buy it once.')
    .option('--listen <host:port>', 'address of the stack\'s listener when it starts (default: stack.yaml, else 127.0.0.1:8402)')
    .option('--json', 'print a summary as JSON')
    .addHelpText('after', `
Examples:
  vend demo                          run it (again: it reuses the stack and pays once more)
  vend demo --json | jq .balances
  vend stack down                    stop the stack and its dev chain afterwards`)
    .action(async (flags: { listen?: string; json?: boolean }) => {
      const { runDemo } = await import('../../demo/runDemo.ts')
      const summary = await runDemo({
        engine: await engineFor(ctx), paths: ctx.paths(),
        ...(flags.listen !== undefined ? { listen: flags.listen } : {}),
        progress: (line) => ctx.io.err(line),
      })
      ctx.io.out(flags.json ? json(summary) : describe(summary))
    })
}

function describe(s: DemoSummary): string {
  const { unpaid: u, paid: p, balances: b } = s
  const body = typeof p.body === 'string' ? p.body : JSON.stringify(p.body)
  return [
    `✓ Stack ${s.stack.reused ? 'was already running' : 'is up'} (pid ${s.stack.pid}) on ${s.stack.listen}, dev chain ${u.networkName} (chain id ${s.devChain.chainId}) at ${s.devChain.rpcUrl}`,
    `✓ Offer ${s.offer.key} ${s.offer.reused ? 'is' : 'now'} served at ${s.offer.url} for ${s.offer.price} ${s.offer.currency} per request (built-in demo upstream)`,
    '',
    `1. Unpaid call: GET ${s.offer.url}`,
    `   HTTP ${u.status} Payment Required. The server asks for:`,
    `     price      ${u.price} ${u.currency} (${u.amount} atomic units, scheme "${u.scheme}")`,
    `     network    ${u.networkName} (${u.network})`,
    `     asset      ${u.currency} at ${u.asset}`,
    `     pay to     ${u.payTo} (the demo seller)`,
    `     valid for  ${u.maxTimeoutSeconds} s after signing`,
    '',
    `2. Paid call: the dev buyer ${b.buyer.address} signs a ${u.price} ${u.currency} authorization and retries`,
    `   HTTP ${p.status} OK`,
    `   response     ${body}`,
    `   transaction  ${p.transaction} (settled on ${u.networkName})`,
    '',
    indent(table([`balance (${b.currency})`, 'before', 'after', 'change'], [
      [`buyer  ${b.buyer.address}`, b.buyer.before, b.buyer.after, b.buyer.delta],
      [`seller ${b.seller.address}`, b.seller.before, b.seller.after, b.seller.delta],
    ]), '   '),
    '',
    `Storefront:  ${s.urls.storefront}`,
    `Services:    ${s.urls.services}`,
    `Skill:       ${s.urls.skill}`,
    '',
    'The stack keeps running. Pay again with `vend pay --dev ' + s.offer.url + '`; stop it with `vend stack down`.',
  ].join('\n')
}

function indent(text: string, prefix: string): string {
  return text.split('\n').map((l) => prefix + l).join('\n')
}
