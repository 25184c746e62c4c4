/** `vend sell ...`: create, inspect, change and remove the offers this stack sells. */
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'
import { addSellDelete, addSellStop, addSellUpdate } from '../sell/edit.ts'
import { addSellHttp } from '../sell/http.ts'
import { addSellInference } from '../sell/inference.ts'
import { addSellList, addSellStatus } from '../sell/show.ts'

export function register(program: Command, ctx: CliContext): void {
  const sell = program.command('sell')
    .description('Create and manage offers (what this stack sells).')
    .addHelpText('after', `
Examples:
  vend sell http weather --upstream http://127.0.0.1:9000 --price 0.001 --pay-to 0x...
  vend sell inference llama --model llama3.2 --upstream http://127.0.0.1:11434 --api ollama --per-mtok 0.5 --pay-to 0x...
  vend sell list -A
  vend sell status weather
  vend sell update weather --price 0.002
  vend sell stop weather --grace 30m
  vend sell delete weather --yes`)
  addSellHttp(sell, ctx)
  addSellInference(sell, ctx)
  addSellList(sell, ctx)
  addSellStatus(sell, ctx)
  addSellUpdate(sell, ctx)
  addSellStop(sell, ctx)
  addSellDelete(sell, ctx)
}
