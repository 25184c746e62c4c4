/** `vend get offers [-o yaml|json]`: the offers as full objects (spec with defaults, plus status), kubectl style. */
import type { Command } from 'commander'
import { stringify } from 'yaml'
import { InvalidInputError } from '../../errors/base.ts'
import { assertName } from '../../state/home.ts'
import type { CliContext } from '../context.ts'
import { json, table } from '../format.ts'
import { loadOffers, type OfferRow } from '../offerRows.ts'

type GetFlags = { output?: string; namespace?: string; allNamespaces?: boolean }

export function register(program: Command, ctx: CliContext): void {
  const get = program.command('get').description('Print stack objects (offers) as a table, YAML or JSON.')
  get.command('offers').aliases(['offer', 'serviceoffers', 'so'])
    .description('Print offers with their spec (defaults applied) and status.')
    .option('-o, --output <format>', 'yaml or json (default: a table)')
    .option('-n, --namespace <namespace>', 'namespace (default: default)')
    .option('-A, --all-namespaces', 'every namespace')
    .addHelpText('after', `
Examples:
  vend get offers -A
  vend get offers -A -o yaml
  vend get offers -o json | jq ".items[].status.conditions"`)
    .action(async (flags: GetFlags) => {
      if (flags.output !== undefined && flags.output !== 'yaml' && flags.output !== 'json') {
        throw new InvalidInputError(`Invalid --output "${flags.output}": expected yaml or json.`)
      }
      if (flags.namespace !== undefined) assertName(flags.namespace, 'namespace', '--namespace')
      const { rows } = await loadOffers(ctx, { namespace: flags.namespace, all: flags.allNamespaces })
      if (flags.output === undefined) {
        return ctx.io.out(table(['NAMESPACE', 'NAME', 'TYPE', 'PRICE', 'READY'], rows.map((r) => [
          r.namespace, r.name, r.offer?.spec.type ?? '-', r.price ?? '-', r.problem ? 'Invalid' : String(r.ready),
        ])))
      }
      const list = { apiVersion: 'v1', kind: 'List', items: rows.map(toObject) }
      ctx.io.out(flags.output === 'json' ? json(list) : stringify(list, { lineWidth: 0 }))
    })
}

function toObject(row: OfferRow): Record<string, unknown> {
  const status = {
    ready: row.ready,
    ...(row.endpoint && { endpoint: row.endpoint }),
    ...(row.status && { observedGeneration: row.status.generation }),
    ...(row.problem && { problem: row.problem }),
    conditions: row.conditions,
  }
  if (row.offer) return { ...row.offer, status }
  return { apiVersion: 'vend.dev/v1alpha1', kind: 'ServiceOffer', metadata: { name: row.name, namespace: row.namespace }, status }
}
