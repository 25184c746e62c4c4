/** `vend sell http <name>`: flags -> a ServiceOffer file (validated before it is written). */
import { Option, type Command } from 'commander'
import { InvalidInputError } from '../../errors/base.ts'
import type { CliContext } from '../context.ts'
import { collect, parseRoute } from '../flagValues.ts'
import {
  addClosingOptions, addPaymentOptions, addPlacementOptions, OFFER_FLAGS, offerBase, requireFlag, writeNewOffer, type OfferFlags,
} from './offerCommand.ts'

type HttpFlags = OfferFlags & { healthPath?: string; route?: string[] }

const FLAGS = { ...OFFER_FLAGS, 'spec.upstream.healthPath': '--health-path', 'spec.routes': '--route' }

export function addSellHttp(sell: Command, ctx: CliContext): void {
  const cmd = sell.command('http')
    .description('Sell an HTTP API: every request under the offer path pays the price, then is proxied to the upstream.')
    .argument('<name>', 'offer name (lowercase letters, digits and -)')
    .option('--upstream <url>', 'base URL of the API to sell, e.g. http://127.0.0.1:9000')
  addPaymentOptions(cmd, { perMTok: false })
  addPlacementOptions(cmd)
    .option('--health-path <path>', 'upstream path probed for health (default: /health)')
    .addOption(new Option('--route <spec>', 'a sub-route with its own gate or price, repeatable: "path=/status,gate=free" or "path=/submit,price=0.5"').argParser(collect))
  addClosingOptions(cmd)
    .addHelpText('after', `
Examples:
  vend sell http weather --upstream http://127.0.0.1:9000 --price 0.001 --pay-to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
  vend sell http search -n team-a --upstream https://api.internal:8443/v2 --price 0.01 --chain base \\
    --route "path=/health,gate=free" --route "path=/deep,price=0.05" --upstream-header "Authorization=Bearer env:SEARCH_KEY"

The offer is written to VEND_HOME/offers/<namespace>/<name>.yaml; the running stack serves it within a second.`)
    .action(async (name: string, flags: HttpFlags) => { await sellHttp(ctx, name, flags) })
}

async function sellHttp(ctx: CliContext, name: string, flags: HttpFlags): Promise<void> {
  const url = requireFlag(flags.upstream, '--upstream is required: the base URL of the API to sell.', 'Pass e.g. --upstream http://127.0.0.1:9000.')
  const base = offerBase(ctx, name, flags)
  const price = requireFlag(base.price, '--price is required: the price per request in token units.', 'Pass e.g. --price 0.001.')
  if ('perMTok' in price) throw new InvalidInputError('--per-mtok is for inference offers.', { hint: 'Use --price for an HTTP API.' })
  const routes = (flags.route ?? []).map(parseRoute)
  const spec = {
    type: 'http',
    upstream: {
      url,
      ...(flags.healthPath !== undefined && { healthPath: flags.healthPath }),
      ...(base.headers && { headers: base.headers }),
    },
    ...base.spec,
    ...(routes.length > 0 && { routes }),
  }
  await writeNewOffer(ctx, base, spec, flags, FLAGS, 'vend sell http')
}
