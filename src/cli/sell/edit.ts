/**
 * `vend sell update | stop | delete`: change or remove an existing offer file. Edits keep the file's
 * comments and layout (YAML document edit), are validated as a whole, then written atomically.
 */
import { existsSync, readFileSync } from 'node:fs'
import { relative } from 'node:path'
import type { Command } from 'commander'
import { parseDocument, type Document } from 'yaml'
import { BaseError, InvalidInputError } from '../../errors/base.ts'
import { findChain, resolveChain } from '../../offer/networks.ts'
import { writeFileAtomic } from '../../state/atomicWrite.ts'
import { assertName, offerFile, type HomePaths } from '../../state/home.ts'
import { deleteOffer, readOfferFile } from '../../state/offerStore.ts'
import { checkOffer } from '../checkOffer.ts'
import type { CliContext } from '../context.ts'
import { durationFlag } from '../flagValues.ts'
import { addChainFlag, addPayToFlags, addPriceFlags, resolvePayTo, resolvePrice, type PaymentFlags } from '../paymentFlags.ts'
import { announce } from './announce.ts'

type Target = { namespace: string; name: string; path: string; file: string; doc: Document }

function target(paths: HomePaths, name: string, namespaceFlag: string | undefined): Omit<Target, 'doc'> {
  assertName(name, 'offer name')
  const namespace = namespaceFlag === undefined ? 'default' : assertName(namespaceFlag, 'namespace', '--namespace')
  const path = offerFile(paths, namespace, name)
  if (!existsSync(path)) {
    throw new BaseError(`Offer ${namespace}/${name} does not exist.`, { hint: 'Run `vend sell list -A` to see the offers.' })
  }
  return { namespace, name, path, file: relative(paths.root, path) }
}

function open(paths: HomePaths, name: string, namespaceFlag: string | undefined): Target {
  const t = target(paths, name, namespaceFlag)
  const doc = parseDocument(readFileSync(t.path, 'utf8'), { prettyErrors: false })
  if (doc.errors.length) {
    const e = doc.errors[0]!
    throw new BaseError(`${t.file}:${e.linePos?.[0]?.line ?? 1}: invalid YAML: ${e.message.split('\n')[0]}.`, {
      hint: 'Fix the file by hand, or recreate the offer with `vend sell http`.',
    })
  }
  return { ...t, doc }
}

async function save(ctx: CliContext, t: Target, wait: boolean, command: string): Promise<void> {
  checkOffer(t.doc.toJS(), UPDATE_FLAGS, command)
  const paths = ctx.paths()
  writeFileAtomic(t.path, t.doc.toString({ lineWidth: 0 }), 0o600)
  const rec = readOfferFile(paths, t.namespace, t.name)
  await announce(ctx, [{ key: rec.key, namespace: t.namespace, name: t.name, created: false, generation: rec.generation }], wait)
}

const UPDATE_FLAGS = { 'spec.payment.payTo': '--pay-to', 'spec.payment.network': '--chain', 'spec.payment.price': '--price', 'spec.drainGracePeriod': '--grace' }

type UpdateFlags = PaymentFlags & { namespace?: string; wait: boolean }

export function addSellUpdate(sell: Command, ctx: CliContext): void {
  const cmd = sell.command('update')
    .description('Change an offer\'s recipient, chain or price.')
    .argument('<name>', 'offer name')
    .option('-n, --namespace <namespace>', 'namespace of the offer (default: default)')
  addPayToFlags(cmd)
  addChainFlag(cmd)
  addPriceFlags(cmd, { perMTok: true })
  cmd.option('--no-wait', 'do not wait for the running stack to pick the change up')
    .addHelpText('after', `
Examples:
  vend sell update weather --pay-to 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
  vend sell update weather --price 0.002
  vend sell update llama --per-mtok 1.5      (switching the price model removes the other price)`)
    .action(async (name: string, flags: UpdateFlags) => {
      const given = ['payTo', 'wallet', 'recipient', 'chain', 'price', 'perRequest', 'perMtok'].filter((k) => flags[k as keyof UpdateFlags] !== undefined)
      if (given.length === 0) {
        throw new InvalidInputError('Nothing to update.', { hint: 'Pass at least one of --pay-to, --chain, --price, --per-request or --per-mtok.' })
      }
      const t = open(ctx.paths(), name, flags.namespace)
      const payment = ['spec', 'payment']
      if (flags.payTo !== undefined || flags.wallet !== undefined || flags.recipient !== undefined) {
        t.doc.setIn([...payment, 'payTo'], resolvePayTo(flags, {}, undefined))
      }
      if (flags.chain !== undefined) t.doc.setIn([...payment, 'network'], resolveChain(flags.chain, '--chain').name)
      const network = String(t.doc.getIn([...payment, 'network']) ?? '')
      const decimals = Number(t.doc.getIn([...payment, 'asset', 'decimals']) ?? findChain(network)?.usdc?.decimals ?? 6)
      const price = resolvePrice(flags, decimals)
      if (price) t.doc.setIn([...payment, 'price'], t.doc.createNode(price))
      await save(ctx, t, flags.wait, 'vend sell update')
    })
}

const DEFAULT_GRACE = '1h'

type StopFlags = { namespace?: string; grace?: string; now?: boolean; wait: boolean }

export function addSellStop(sell: Command, ctx: CliContext): void {
  sell.command('stop')
    .description('Drain an offer: it keeps serving for the grace period (default 1h), then its route is removed.')
    .argument('<name>', 'offer name')
    .option('-n, --namespace <namespace>', 'namespace of the offer (default: default)')
    .option('--grace <duration>', 'how long to keep serving, e.g. 30m or 2h (default: 1h)')
    .option('--now', 'stop serving at once (grace 0s)')
    .option('--no-wait', 'do not wait for the running stack to pick the change up')
    .addHelpText('after', `
Examples:
  vend sell stop weather               keep serving for an hour, then remove the route
  vend sell stop weather --now`)
    .action(async (name: string, flags: StopFlags) => {
      if (flags.now && flags.grace !== undefined) throw new InvalidInputError('--now and --grace cannot be combined.', { hint: 'Use --now for a grace of 0s, or --grace <duration>.' })
      const grace = flags.now ? '0s' : flags.grace === undefined ? DEFAULT_GRACE : durationFlag(flags.grace, '--grace')
      const t = open(ctx.paths(), name, flags.namespace)
      t.doc.setIn(['spec', 'drainAt'], new Date().toISOString())
      t.doc.setIn(['spec', 'drainGracePeriod'], grace)
      ctx.io.err(`Draining ${t.namespace}/${t.name}: ${grace === '0s' ? 'stopping now' : `serving for ${grace} more`}; delete it afterwards with \`vend sell delete ${t.name} -n ${t.namespace}\`.`)
      await save(ctx, t, flags.wait, 'vend sell stop')
    })
}

type DeleteFlags = { namespace?: string; yes?: boolean }

export function addSellDelete(sell: Command, ctx: CliContext): void {
  sell.command('delete').alias('rm')
    .description('Delete an offer: its route disappears from the running stack and it never comes back.')
    .argument('<name>', 'offer name')
    .option('-n, --namespace <namespace>', 'namespace of the offer (default: default)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', `
Examples:
  vend sell delete weather
  vend sell delete search -n team-a --yes`)
    .action(async (name: string, flags: DeleteFlags) => {
      const paths = ctx.paths()
      const t = target(paths, name, flags.namespace)
      if (!flags.yes) {
        if (!ctx.canPrompt()) {
          throw new InvalidInputError(`Refusing to delete ${t.namespace}/${t.name} without confirmation.`, { hint: 'Pass --yes to delete it.' })
        }
        if (!(await ctx.io.confirm(`Delete offer ${t.namespace}/${t.name}? Buyers lose access at once.`))) {
          throw new BaseError('Cancelled; nothing was deleted.')
        }
      }
      deleteOffer(paths, t.namespace, t.name)
      ctx.io.err(`✓ Deleted offer ${t.namespace}/${t.name}`)
    })
}
