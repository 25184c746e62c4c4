/** `vend sell http <name>`: flags -> a ServiceOffer file (validated before it is written). */
import { existsSync } from 'node:fs'
import { Option, type Command } from 'commander'
import { InvalidInputError } from '../../errors/base.ts'
import { API_VERSION, KIND } from '../../offer/schema.ts'
import { assertName, offerFile } from '../../state/home.ts'
import { readOfferFile, writeOffer } from '../../state/offerStore.ts'
import { baseUrl, readStackConfig } from '../../state/stackConfig.ts'
import { checkOffer, type FlagMap } from '../checkOffer.ts'
import type { CliContext } from '../context.ts'
import { collect, intFlag, parseRoute, parseUpstreamHeader, positiveNumberFlag, secondsFlag } from '../flagValues.ts'
import {
  addChainFlag, addPayToFlags, addPriceFlags, addTokenFlags, resolveNetwork, resolvePayTo, resolvePrice, resolveToken,
  type PaymentFlags,
} from '../paymentFlags.ts'
import { addRegistrationFlags, buildRegistration, type RegistrationFlags } from '../registrationFlags.ts'
import { announce } from './announce.ts'

type HttpFlags = PaymentFlags & RegistrationFlags & {
  upstream?: string
  namespace?: string
  path?: string
  healthPath?: string
  maxTimeout?: string
  description?: string
  route?: string[]
  maxInFlight?: string
  rps?: string
  upstreamHeader?: string[]
  wait: boolean
}

/** Offer fields -> the flag that sets them, so a validation error names the flag. */
const FLAGS: FlagMap = {
  'metadata.name': '<name>', 'metadata.namespace': '--namespace', 'spec.upstream.url': '--upstream',
  'spec.upstream.healthPath': '--health-path', 'spec.upstream.headers': '--upstream-header', 'spec.path': '--path',
  'spec.description': '--description', 'spec.payment.network': '--chain', 'spec.payment.payTo': '--pay-to',
  'spec.payment.asset': '--token', 'spec.payment.price': '--price', 'spec.payment.maxTimeoutSeconds': '--max-timeout',
  'spec.routes': '--route', 'spec.limits.maxInFlight': '--max-in-flight', 'spec.limits.rps': '--rps',
  'spec.registration.name': '--register-name', 'spec.registration.description': '--register-description',
  'spec.registration.image': '--register-image', 'spec.registration.skills': '--register-skills',
  'spec.registration.domains': '--register-domains', 'spec.registration.metadata': '--register-metadata',
}

export function addSellHttp(sell: Command, ctx: CliContext): void {
  const cmd = sell.command('http')
    .description('Sell an HTTP API: every request under the offer path pays the price, then is proxied to the upstream.')
    .argument('<name>', 'offer name (lowercase letters, digits and -)')
    .option('--upstream <url>', 'base URL of the API to sell, e.g. http://127.0.0.1:9000')
  addPriceFlags(cmd, { perMTok: false })
  addPayToFlags(cmd)
  addChainFlag(cmd)
  addTokenFlags(cmd)
  cmd
    .option('-n, --namespace <namespace>', 'namespace of the offer (default: default)')
    .option('--path <path>', 'public path prefix (default: /services/<name>)')
    .option('--health-path <path>', 'upstream path probed for health (default: /health)')
    .option('--max-timeout <seconds>', 'how long a payment authorisation stays valid, seconds or a duration (default: 300)')
    .option('--description <text>', 'what the API does (shown in the storefront and discovery documents)')
    .addOption(new Option('--route <spec>', 'a sub-route with its own gate or price, repeatable: "path=/status,gate=free" or "path=/submit,price=0.5"').argParser(collect))
    .option('--max-in-flight <n>', 'concurrent requests allowed for this offer')
    .option('--rps <n>', 'requests per second allowed for this offer')
    .addOption(new Option('--upstream-header <Name=source>', 'header added to upstream requests, from env or a file, repeatable: "Authorization=Bearer env:API_KEY"').argParser(collect))
  addRegistrationFlags(cmd)
  cmd
    .option('--no-wait', 'do not wait for the running stack to pick the offer up')
    .addHelpText('after', `
Examples:
  vend sell http weather --upstream http://127.0.0.1:9000 --price 0.001 --pay-to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
  vend sell http search -n team-a --upstream https://api.internal:8443/v2 --price 0.01 --chain base \\
    --route "path=/health,gate=free" --route "path=/deep,price=0.05" --upstream-header "Authorization=Bearer env:SEARCH_KEY"

The offer is written to VEND_HOME/offers/<namespace>/<name>.yaml; the running stack serves it within a second.`)
    .action(async (name: string, flags: HttpFlags) => { await sellHttp(ctx, name, flags) })
}

async function sellHttp(ctx: CliContext, name: string, flags: HttpFlags): Promise<void> {
  const paths = ctx.paths()
  assertName(name, 'offer name')
  if (flags.namespace !== undefined) assertName(flags.namespace, 'namespace', '--namespace')
  const namespace = flags.namespace ?? 'default'
  if (flags.upstream === undefined) {
    throw new InvalidInputError('--upstream is required: the base URL of the API to sell.', { hint: 'Pass e.g. --upstream http://127.0.0.1:9000.' })
  }
  const config = readStackConfig(paths)
  const chain = resolveNetwork(flags, config)
  const { asset, decimals } = resolveToken(flags, chain)
  const price = resolvePrice(flags, decimals)
  if (!price) throw new InvalidInputError('--price is required: the price per request in token units.', { hint: 'Pass e.g. --price 0.001.' })
  if ('perMTok' in price) throw new InvalidInputError('--per-mtok is for inference offers.', { hint: 'Use --price for an HTTP API.' })
  const payTo = resolvePayTo(flags, ctx.env, config)
  const registration = buildRegistration(flags)
  const routes = (flags.route ?? []).map(parseRoute)
  const headers = flags.upstreamHeader ? Object.fromEntries(flags.upstreamHeader.map(parseUpstreamHeader)) : undefined
  const limits = {
    ...(flags.maxInFlight !== undefined && { maxInFlight: intFlag(flags.maxInFlight, '--max-in-flight', 1, 1_000_000) }),
    ...(flags.rps !== undefined && { rps: positiveNumberFlag(flags.rps, '--rps') }),
  }

  const input = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, ...(flags.namespace !== undefined && { namespace }) },
    spec: {
      type: 'http',
      ...(flags.description !== undefined && { description: flags.description }),
      upstream: {
        url: flags.upstream,
        ...(flags.healthPath !== undefined && { healthPath: flags.healthPath }),
        ...(headers && { headers }),
      },
      ...(flags.path !== undefined && { path: flags.path }),
      payment: {
        network: chain.name,
        payTo,
        ...(asset && { asset }),
        price,
        ...(flags.maxTimeout !== undefined && { maxTimeoutSeconds: secondsFlag(flags.maxTimeout, '--max-timeout', 10, 86_400) }),
      },
      ...(routes.length > 0 && { routes }),
      ...(Object.keys(limits).length > 0 && { limits }),
      registration,
    },
  }
  const { resolved } = checkOffer(input, FLAGS, 'vend sell http')

  const created = !existsSync(offerFile(paths, namespace, name))
  writeOffer(paths, input)
  const rec = readOfferFile(paths, namespace, name)
  ctx.io.out(baseUrl(config) + resolved.path)
  await announce(ctx, [{ key: rec.key, namespace, name, created, generation: rec.generation }], flags.wait)
}
