/**
 * `vend stack up | down | status | logs | purge` and `vend serve`: the lifecycle of the one daemon per
 * VEND_HOME. `stack up` starts it in the background; `serve` runs it in the foreground.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import type { StackUpOptions } from '../../engine/api.ts'
import { BaseError, InvalidInputError } from '../../errors/base.ts'
import { assertName, type HomePaths } from '../../state/home.ts'
import { readStackConfig, writeStackConfig } from '../../state/stackConfig.ts'
import type { CliContext } from '../context.ts'
import { engineFor, type EngineChoice } from '../engine.ts'
import { intFlag } from '../flagValues.ts'
import { json } from '../format.ts'
import { printLogs } from '../stack/logs.ts'
import { printStatus } from '../stack/status.ts'

type UpFlags = { listen?: string; publicUrl?: string; facilitator?: string; dev?: boolean; devChainId?: string; devJoin?: string; json?: boolean; engine?: string; context?: string; namespace?: string }

export function register(program: Command, ctx: CliContext): void {
  const stack = program.command('stack')
    .description('Start, stop and inspect the stack (one background daemon per VEND_HOME).')
    .addHelpText('after', `
Examples:
  vend stack up                      start the daemon; offers on disk are served at once
  vend stack up --dev                with a local dev chain and the in-process facilitator
  vend stack status
  vend stack logs -f
  vend stack down`)

  stack.command('up')
    .description('Start the stack in the background (no-op when it runs). Flags are saved in stack.yaml for the next up.')
    .option('--listen <host:port>', 'address of the public listener (default: 127.0.0.1:8402)')
    .option('--public-url <url>', 'URL buyers reach the stack at, when it differs from http://<listen>')
    .option('--facilitator <url>', 'x402 facilitator URL, or "local" for the in-process one')
    .option('--dev', 'start (or reuse) a local dev chain with test USDC and settle payments on it')
    .option('--dev-chain-id <id>', 'chain id of the dev chain: 31337 (default) or 84532 (Base Sepolia-shaped)')
    .option('--dev-join <rpc-url>', 'use another stack\'s dev chain instead of starting one')
    .option('--engine <engine>', 'embedded (one local daemon, the default) or kubernetes (the Helm chart plus one ServiceOffer per file); saved in stack.yaml')
    .option('--context <context>', 'kubeconfig context for --engine kubernetes')
    .option('--namespace <namespace>', 'Kubernetes namespace for --engine kubernetes (default: vend)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
Examples:
  vend stack up
  vend stack up --listen 0.0.0.0:8402 --public-url https://api.example.com
  vend stack up --dev --dev-chain-id 84532
  vend stack up --engine kubernetes --context prod --namespace vend`)
    .action(async (flags: UpFlags) => {
      const choice = flags.engine !== undefined || flags.context !== undefined || flags.namespace !== undefined ? engineChoice(flags) : undefined
      const opts: StackUpOptions = {}
      if (flags.listen !== undefined) opts.listen = checkListen(flags.listen)
      if (flags.publicUrl !== undefined) opts.publicUrl = checkUrl(flags.publicUrl, '--public-url')
      if (flags.facilitator !== undefined) opts.facilitator = flags.facilitator === 'local' ? 'local' : checkUrl(flags.facilitator, '--facilitator')
      if (flags.dev) opts.dev = true
      if (flags.devChainId !== undefined) {
        opts.devChainId = intFlag(flags.devChainId, '--dev-chain-id', 1, 2 ** 31)
        opts.dev = true
      }
      if (flags.devJoin !== undefined) {
        opts.devJoin = checkUrl(flags.devJoin, '--dev-join')
        opts.dev = true
      }
      const engine = choice ? await engineFor(ctx, choice) : await engineFor(ctx)
      const r = await engine.up(opts)
      if (choice) saveEngineChoice(ctx, choice) // only once the stack came up: bad input writes nothing
      if (flags.json) return ctx.io.out(json(r))
      ctx.io.err(r.alreadyRunning ? `✓ Stack was already running (pid ${r.pid}) on ${r.listen}` : `✓ Stack is up (pid ${r.pid}) on ${r.listen}`)
      ctx.io.out([
        `Storefront:  ${r.urls.storefront}`,
        `Services:    ${r.urls.services}`,
        `Skill:       ${r.urls.skill}`,
      ].join('\n'))
    })

  stack.command('down')
    .description('Stop the stack gracefully (in-flight requests finish). Offer files stay; `stack up` brings them back.')
    .option('-y, --yes', 'do not ask when paid offers are live')
    .addHelpText('after', `
Examples:
  vend stack down          asks first when paid offers are live (refuses in scripts)
  vend stack down --yes`)
    .action(async (flags: { yes?: boolean }) => {
      const engine = await engineFor(ctx)
      const st = await engine.status()
      const live = (st.offers ?? []).filter((o) => o.operationallyReady).map((o) => o.key)
      if (st.running && live.length > 0 && !flags.yes) {
        const what = `${live.length} paid offer${live.length === 1 ? ' is' : 's are'} live (${live.slice(0, 5).join(', ')}${live.length > 5 ? ', ...' : ''})`
        if (!ctx.canPrompt()) throw new InvalidInputError(`Refusing to stop the stack: ${what}.`, { hint: 'Pass --yes to stop it anyway.' })
        if (!(await ctx.io.confirm(`${what}; buyers get no answer while the stack is down. Stop it?`))) throw new BaseError('Cancelled; the stack is still running.')
      }
      const { wasRunning } = await engine.down()
      ctx.io.err(wasRunning ? '✓ Stack stopped' : 'The stack was not running.')
    })

  stack.command('status')
    .description('Show the daemon, its offers and any offer file that fails to load.')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Examples:
  vend stack status
  vend stack status --json | jq '.problems'`)
    .action(async (flags: { json?: boolean }) => { await printStatus(ctx, Boolean(flags.json)) })

  stack.command('logs')
    .description('Print the daemon log (VEND_HOME/state/daemon.log).')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('--tail <n>', 'only the last n lines')
    .option('--json', 'print the raw JSON lines')
    .addHelpText('after', `
Examples:
  vend stack logs --tail 50
  vend stack logs -f`)
    .action(async (flags: { follow?: boolean; tail?: string; json?: boolean }) => {
      await printLogs(ctx, {
        follow: Boolean(flags.follow), json: Boolean(flags.json),
        tail: flags.tail === undefined ? undefined : intFlag(flags.tail, '--tail', 1, 1_000_000),
      })
    })

  stack.command('purge')
    .description('Stop the stack and delete VEND_HOME: offers, ledger, wallet, dev chain. Cannot be undone.')
    .option('-y, --yes', 'confirm the deletion (required)')
    .addHelpText('after', `
Example:
  vend stack purge --yes`)
    .action(async (flags: { yes?: boolean }) => {
      const paths = ctx.paths()
      if (!flags.yes) {
        throw new InvalidInputError(`Refusing to purge ${paths.root} without --yes.`, {
          hint: 'This deletes every offer, the payment ledger and the wallet; back up what you need, then pass --yes.',
        })
      }
      checkPurgeTarget(paths)
      const { wasRunning } = await (await engineFor(ctx)).down()
      rmSync(paths.root, { recursive: true, force: true })
      ctx.io.err(`✓ ${wasRunning ? 'Stopped the stack and deleted' : 'Deleted'} ${paths.root}`)
    })

  program.command('serve')
    .description('Run the stack daemon in the foreground (what `stack up` starts in the background).')
    .option('--engine <engine>', 'embedded (default) or kubernetes (inside a cluster, with --role)')
    .option('--role <role>', 'with --engine kubernetes: controller or gateway')
    .action(async (flags: { engine?: string; role?: string }) => {
      const engine = flags.engine ?? 'embedded'
      if (engine === 'kubernetes') {
        if (flags.role !== 'controller' && flags.role !== 'gateway') throw new InvalidInputError(`--engine kubernetes needs --role controller or --role gateway${flags.role ? `, not "${flags.role}"` : ''}.`)
        const { runKubernetesRole } = await import('../../k8s/serve.ts')
        return runKubernetesRole(flags.role)
      }
      if (engine !== 'embedded') throw new InvalidInputError(`Unknown --engine "${engine}".`, { hint: 'Use embedded or kubernetes.' })
      if (flags.role !== undefined) throw new InvalidInputError('--role is only for --engine kubernetes.')
      const { runDaemon } = await import('../../engine/daemon.ts')
      await runDaemon(ctx.paths())
    })
}

/** `stack up --engine/--context/--namespace`, validated before anything runs. */
function engineChoice(flags: UpFlags): EngineChoice {
  const engine = flags.engine ?? 'kubernetes'
  if (engine !== 'embedded' && engine !== 'kubernetes') throw new InvalidInputError(`Unknown --engine "${engine}".`, { hint: 'Use embedded or kubernetes.' })
  if (engine === 'embedded') {
    if (flags.context !== undefined || flags.namespace !== undefined) throw new InvalidInputError('--context and --namespace are only for --engine kubernetes.')
    return { engine }
  }
  return {
    engine,
    ...(flags.context !== undefined ? { context: flags.context } : {}),
    ...(flags.namespace !== undefined ? { namespace: assertName(flags.namespace, 'namespace', '--namespace') } : {}),
  }
}

/** The choice is kept in stack.yaml, like every other `up` flag, so later commands talk to the same engine. */
function saveEngineChoice(ctx: CliContext, choice: EngineChoice): void {
  const paths = ctx.paths()
  const config = readStackConfig(paths)
  config.engine = choice.engine
  if (choice.engine === 'kubernetes') {
    config.kubernetes = {
      ...(config.kubernetes ?? { namespace: 'vend' }),
      ...(choice.context !== undefined ? { context: choice.context } : {}),
      ...(choice.namespace !== undefined ? { namespace: choice.namespace } : {}),
    }
  }
  writeStackConfig(paths, config)
}

/** Only ever delete something that is a Vend home: never /, the user's home, or a foreign directory. */
function checkPurgeTarget(paths: HomePaths): void {
  const root = resolve(paths.root)
  if (root === '/' || root === resolve(homedir())) throw new BaseError(`VEND_HOME is ${root}; refusing to delete it.`, { hint: 'Point VEND_HOME at the stack\'s own directory.' })
  if (!existsSync(root)) return
  const known = new Set(['stack.yaml', 'offers', 'purchases', 'state', 'wallet'])
  const foreign = readdirSync(root).filter((f) => !known.has(f) && !/^\..*\.tmp$/.test(f))
  if (foreign.length) {
    throw new BaseError(`${root} holds files Vend did not create (${foreign.slice(0, 3).join(', ')}); refusing to delete it.`, {
      hint: 'Move them elsewhere, or delete the directory yourself.',
    })
  }
}

function checkListen(value: string): string {
  if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value) || Number(value.slice(value.lastIndexOf(':') + 1)) > 65535) {
    throw new InvalidInputError(`Invalid --listen "${value}": expected host:port.`, { hint: 'Write it like --listen 127.0.0.1:8402.' })
  }
  return value
}

function checkUrl(value: string, flag: string): string {
  let u: URL | undefined
  try { u = new URL(value) } catch { /* reported below */ }
  if (!u || !/^https?:$/.test(u.protocol)) throw new InvalidInputError(`Invalid ${flag} "${value}": expected an http:// or https:// URL.`)
  return value
}
