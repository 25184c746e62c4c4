/**
 * `vend buy ...`: what this stack buys from other sellers. Purchases are files (VEND_HOME/purchases/<name>.yaml);
 * the running daemon serves them to local clients at /buy/v1/* (OpenAI-compatible) and /buy/<purchase>/<path>.
 */
import type { Command } from 'commander'
import { addPurchase } from '../../buyer/addPurchase.ts'
import { readPurchaseStatus, type PurchaseStatus } from '../../buyer/purchaseStatus.ts'
import { priceUnit, type PriceUnit } from '../../buyer/purchaseSchema.ts'
import { listPurchases, readPurchase, removePurchase, PurchaseNotFoundError } from '../../buyer/purchaseStore.ts'
import { readDevChain } from '../../devchain/devChain.ts'
import { assertName } from '../../state/home.ts'
import { readStackConfig, baseUrl } from '../../state/stackConfig.ts'
import type { CliContext } from '../context.ts'
import { json, table } from '../format.ts'

type AddFlags = { offer?: string; model?: string; budget: string; perDay?: string; maxPrice?: string; name?: string; rpcUrl?: string; json?: boolean }

export function register(program: Command, ctx: CliContext): void {
  const buy = program.command('buy')
    .description('Buy from other sellers: purchases with budgets, served to local clients by the stack.')
    .addHelpText('after', `
Examples:
  vend buy add https://seller.example --offer chat --budget 5 --per-day 1 --max-price 0.01
  vend buy add 42@base-sepolia --budget 2
  vend buy list
  vend buy status chat --json
  vend buy remove chat

Local clients call http://127.0.0.1:8402/buy/v1/chat/completions with model "<purchase>/<model>",
or http://127.0.0.1:8402/buy/<purchase>/<path> for HTTP offers.`)

  buy.command('add')
    .description('Discover a seller\'s offer, check its live price, and add (or replace) a purchase.')
    .argument('<seller>', 'the seller\'s URL, or <agentId>@<chain> from the ERC-8004 Identity Registry')
    .option('--offer <name>', 'the seller\'s offer (name or namespace/name); needed when it sells several')
    .option('--model <model>', 'model name sent upstream for OpenAI-compatible calls')
    .requiredOption('--budget <amount>', 'most the purchase may ever spend, in token units (e.g. 5)')
    .option('--per-day <amount>', 'most it may spend per UTC day')
    .option('--max-price <amount>', 'most one request may cost (default: the live price; per-token offers: the budget); refuse if the seller asks more')
    .option('--name <name>', 'purchase name (default: the offer\'s name)')
    .option('--rpc-url <url>', 'RPC endpoint used to resolve <agentId>@<chain>')
    .option('--json', 'print the purchase as JSON')
    .addHelpText('after', `
Adding under an existing name replaces that purchase (this is how a budget is raised); what it already spent
still counts against the new budget. Amounts are in the seller's token (USDC), e.g. --budget 5 --max-price 0.01.
A per-token (inference) offer records the seller's price per million tokens; each request may then be asked
at most that price for its prompt (bounded by its size) and its max_tokens.`)
    .action(async (seller: string, flags: AddFlags) => {
      const paths = ctx.paths()
      const dev = readDevChain(paths)
      const r = await addPurchase(paths, {
        seller, offer: flags.offer, model: flags.model, budget: flags.budget, perDay: flags.perDay, maxPrice: flags.maxPrice, name: flags.name,
      }, {
        env: ctx.env,
        rpcUrl: (chain) => flags.rpcUrl ?? (dev && dev.chainId === chain.chainId ? dev.rpcUrl : undefined),
      })
      if (flags.json) { ctx.io.out(json(r.purchase)); return }
      const p = r.purchase
      ctx.io.err(`✓ ${r.replaced ? 'Replaced' : 'Added'} purchase ${p.metadata.name}: ${p.spec.offer} at ${p.spec.payment.price} ${p.spec.payment.symbol} ${unitWords(priceUnit(p))}`)
      const base = baseUrl(readStackConfig(paths))
      ctx.io.out([
        `File:      ${r.file}`,
        `Budget:    ${p.spec.budget.total} ${p.spec.payment.symbol}${p.spec.budget.perDay ? `, ${p.spec.budget.perDay} per day` : ''}, at most ${p.spec.budget.maxPerRequest} per request`,
        `OpenAI:    ${base}/buy/v1  (model ${p.metadata.name}/${p.spec.model ?? 'default'})`,
        `HTTP:      ${base}/buy/${p.metadata.name}/<path>`,
      ].join('\n'))
    })

  buy.command('list')
    .description('Purchases with their spend and budgets.')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const paths = ctx.paths()
      const records = listPurchases(paths)
      const rows = await Promise.all(records.map(async (r) => (r.purchase ? { name: r.name, status: await readPurchaseStatus(paths, r.purchase) } : { name: r.name, problem: r.problem })))
      if (flags.json) { ctx.io.out(json(rows)); return }
      if (!rows.length) { ctx.io.err('No purchases yet. Add one with `vend buy add <seller> --budget <amount>`.'); return }
      ctx.io.out(table(['NAME', 'OFFER', 'PRICE', 'SPENT', 'BUDGET', 'REQUESTS', 'SELLER'], rows.map((r) => {
        if (!('status' in r) || !r.status) return [r.name, '-', '-', '-', '-', '-', `invalid: ${r.problem}`]
        const s = r.status
        return [s.name, s.offer, `${s.price.decimal} ${s.symbol}${s.priceUnit === 'perMTok' ? '/MTok' : ''}`, s.spent.decimal, s.budget.total.decimal, String(s.requests), s.seller]
      })))
    })

  buy.command('status')
    .description('Spend, remaining budget, requests and the last error of a purchase.')
    .argument('<name>', 'purchase name')
    .option('--json', 'print JSON (amounts as {decimal, atomic})')
    .action(async (name: string, flags: { json?: boolean }) => {
      const paths = ctx.paths()
      const s = await readPurchaseStatus(paths, readPurchase(paths, assertName(name, 'purchase name')))
      if (flags.json) { ctx.io.out(json(s)); return }
      ctx.io.out(statusLines(s).join('\n'))
    })

  buy.command('remove')
    .description('Remove a purchase (its payments stay in the ledger).')
    .argument('<name>', 'purchase name')
    .action(async (name: string) => {
      if (!removePurchase(ctx.paths(), assertName(name, 'purchase name'))) {
        throw new PurchaseNotFoundError(`There is no purchase named "${name}".`, { hint: 'See `vend buy list`.' })
      }
      ctx.io.err(`✓ Removed purchase ${name}`)
    })
}

const unitWords = (unit: PriceUnit) => (unit === 'perMTok' ? 'per million tokens' : 'per request')

function statusLines(s: PurchaseStatus): string[] {
  const u = (a: { decimal: string }) => `${a.decimal} ${s.symbol}`
  return [
    `Purchase:   ${s.name}`,
    `Seller:     ${s.seller} (${s.offer})`,
    `Endpoint:   ${s.endpoint}`,
    `Model id:   ${s.modelId}`,
    `Price:      ${u(s.price)} ${unitWords(s.priceUnit)} on ${s.network}${s.maxTokens === undefined ? '' : ` (a request without max_tokens: up to ${s.maxTokens} completion tokens)`}`,
    `Spent:      ${u(s.spent)} of ${u(s.budget.total)} (${s.payments} payments${s.pending.atomic !== '0' ? `, ${u(s.pending)} awaiting a receipt` : ''})`,
    `Remaining:  ${u(s.remaining)}`,
    `Today:      ${u(s.today.spent)}${s.budget.perDay ? ` of ${u(s.budget.perDay)} (${u(s.today.remaining!)} left)` : ''}`,
    `Max price:  ${u(s.budget.maxPerRequest)} per request`,
    `Requests:   ${s.requests} (${s.refused} refused or failed)`,
    `Last error: ${s.lastError ? `${s.lastError} (${s.lastErrorAt})` : 'none'}`,
  ]
}
