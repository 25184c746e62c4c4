/**
 * What `sell http` and `sell inference` share: the flags every offer has (payment, namespace, path,
 * limits, upstream headers, registration), turning them into the common parts of the offer, and the
 * validate -> write -> announce step. Each command adds only its own flags and spec fields.
 */
import { existsSync } from 'node:fs'
import { Option, type Command } from 'commander'
import { InvalidInputError } from '../../errors/base.ts'
import { API_VERSION, KIND } from '../../offer/schema.ts'
import { assertName, offerFile } from '../../state/home.ts'
import { readOfferFile, writeOffer } from '../../state/offerStore.ts'
import { baseUrl, readStackConfig, type StackConfig } from '../../state/stackConfig.ts'
import { checkOffer, type FlagMap } from '../checkOffer.ts'
import type { CliContext } from '../context.ts'
import { collect, intFlag, parseUpstreamHeader, positiveNumberFlag, secondsFlag } from '../flagValues.ts'
import {
  addChainFlag, addPayToFlags, addPriceFlags, addTokenFlags, resolveNetwork, resolvePayTo, resolvePrice, resolveToken,
  type PaymentFlags, type PriceInput,
} from '../paymentFlags.ts'
import { addRegistrationFlags, buildRegistration, type RegistrationFlags } from '../registrationFlags.ts'
import { announce } from './announce.ts'

export type OfferFlags = PaymentFlags & RegistrationFlags & {
  upstream?: string
  namespace?: string
  path?: string
  maxTimeout?: string
  description?: string
  maxInFlight?: string
  rps?: string
  upstreamHeader?: string[]
  wait: boolean
}

/** Offer fields -> the flag that sets them, so a validation error names the flag. */
export const OFFER_FLAGS: FlagMap = {
  'metadata.name': '<name>', 'metadata.namespace': '--namespace', 'spec.upstream.url': '--upstream',
  'spec.upstream.headers': '--upstream-header', 'spec.path': '--path',
  'spec.description': '--description', 'spec.payment.network': '--chain', 'spec.payment.payTo': '--pay-to',
  'spec.payment.asset': '--token', 'spec.payment.price': '--price', 'spec.payment.maxTimeoutSeconds': '--max-timeout',
  'spec.limits.maxInFlight': '--max-in-flight', 'spec.limits.rps': '--rps',
  'spec.registration.name': '--register-name', 'spec.registration.description': '--register-description',
  'spec.registration.image': '--register-image', 'spec.registration.skills': '--register-skills',
  'spec.registration.domains': '--register-domains', 'spec.registration.metadata': '--register-metadata',
}

/** Payment flags first (what every seller sets), then placement and limits. */
export function addPaymentOptions(cmd: Command, opts: { perMTok: boolean }): Command {
  addPriceFlags(cmd, opts)
  addPayToFlags(cmd)
  addChainFlag(cmd)
  return addTokenFlags(cmd)
}

export function addPlacementOptions(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <namespace>', 'namespace of the offer (default: default)')
    .option('--path <path>', 'public path prefix (default: /services/<name>)')
    .option('--max-timeout <seconds>', 'how long a payment authorisation stays valid, seconds or a duration (default: 300)')
    .option('--description <text>', 'what is sold (shown in the storefront and discovery documents)')
    .option('--max-in-flight <n>', 'concurrent requests allowed for this offer')
    .option('--rps <n>', 'requests per second allowed for this offer')
    .addOption(new Option('--upstream-header <Name=source>', 'header added to upstream requests, from env or a file, repeatable: "Authorization=Bearer env:API_KEY"').argParser(collect))
}

export function addClosingOptions(cmd: Command): Command {
  return addRegistrationFlags(cmd).option('--no-wait', 'do not wait for the running stack to pick the offer up')
}

export type OfferBase = {
  namespace: string
  config: StackConfig
  decimals: number
  price: PriceInput | undefined
  /** metadata, payment, limits, registration, description and path, ready to merge with the type's own fields. */
  metadata: { name: string; namespace?: string }
  spec: Record<string, unknown>
  headers: Record<string, unknown> | undefined
}

/** The parts every offer has, validated flag by flag (each error names its flag). */
export function offerBase(ctx: CliContext, name: string, flags: OfferFlags): OfferBase {
  assertName(name, 'offer name')
  if (flags.namespace !== undefined) assertName(flags.namespace, 'namespace', '--namespace')
  const config = readStackConfig(ctx.paths())
  const chain = resolveNetwork(flags, config)
  const { asset, decimals } = resolveToken(flags, chain)
  const price = resolvePrice(flags, decimals)
  const payTo = resolvePayTo(flags, ctx.env, config)
  const registration = buildRegistration(flags)
  const headers = flags.upstreamHeader ? Object.fromEntries(flags.upstreamHeader.map(parseUpstreamHeader)) : undefined
  const limits = {
    ...(flags.maxInFlight !== undefined && { maxInFlight: intFlag(flags.maxInFlight, '--max-in-flight', 1, 1_000_000) }),
    ...(flags.rps !== undefined && { rps: positiveNumberFlag(flags.rps, '--rps') }),
  }
  return {
    namespace: flags.namespace ?? 'default',
    config, decimals, price, headers,
    metadata: { name, ...(flags.namespace !== undefined && { namespace: flags.namespace }) },
    spec: {
      ...(flags.description !== undefined && { description: flags.description }),
      ...(flags.path !== undefined && { path: flags.path }),
      payment: {
        network: chain.name,
        payTo,
        ...(asset && { asset }),
        ...(price && { price }),
        ...(flags.maxTimeout !== undefined && { maxTimeoutSeconds: secondsFlag(flags.maxTimeout, '--max-timeout', 10, 86_400) }),
      },
      ...(Object.keys(limits).length > 0 && { limits }),
      registration,
    },
  }
}

export function requireFlag<T>(value: T | undefined, message: string, hint: string): T {
  if (value === undefined) throw new InvalidInputError(message, { hint })
  return value
}

/** Validate the whole offer, write it atomically, print its endpoint (stdout) and what happened (stderr). */
export async function writeNewOffer(
  ctx: CliContext, base: OfferBase, spec: Record<string, unknown>, flags: OfferFlags, flagMap: FlagMap, command: string,
): Promise<void> {
  const paths = ctx.paths()
  const input = { apiVersion: API_VERSION, kind: KIND, metadata: base.metadata, spec }
  const { offer, resolved } = checkOffer(input, flagMap, command)
  const { name, namespace } = offer.metadata
  const created = !existsSync(offerFile(paths, namespace, name))
  writeOffer(paths, input)
  const rec = readOfferFile(paths, namespace, name)
  ctx.io.out(baseUrl(base.config) + resolved.path)
  await announce(ctx, [{ key: rec.key, namespace, name, created, generation: rec.generation }], flags.wait)
}
