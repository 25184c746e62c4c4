/**
 * `vend <noun> <verb>`: builds the command tree from the modules in cli/commands/, runs it, and turns every
 * failure into exactly one line on stderr ("vend: <what is wrong>. <what to do>") plus an exit code:
 * 2 for usage errors (unknown flag or command, bad value), 1 for everything else.
 */
import { Command, CommanderError } from 'commander'
import { BaseError } from '../errors/base.ts'
import { defaultContext, type CliContext, type CommandModule } from './context.ts'

/**
 * Every command module and the command words it adds. Only the modules the arguments name are loaded
 * (some pull in viem or ethers, ~1 s of startup); help for a group or an unknown command loads them all.
 * Table order is registration order: a module that extends another's group (`sell register`) comes after it.
 */
const MODULES: { path: string[]; load: () => Promise<CommandModule> }[] = [
  { path: ['sell'], load: () => import('./commands/sell.ts') },
  { path: ['sell', 'register'], load: () => import('./commands/register.ts') },
  { path: ['sell', 'earnings'], load: () => import('./commands/earnings.ts') },
  { path: ['apply'], load: () => import('./commands/apply.ts') },
  { path: ['get'], load: () => import('./commands/get.ts') },
  { path: ['stack'], load: () => import('./commands/stack.ts') },
  { path: ['serve'], load: () => import('./commands/stack.ts') },
  { path: ['wallet'], load: () => import('./commands/wallet.ts') },
  { path: ['pay'], load: () => import('./commands/pay.ts') },
  { path: ['ledger'], load: () => import('./commands/ledger.ts') },
  { path: ['dev'], load: () => import('./commands/dev.ts') },
  { path: ['buy'], load: () => import('./commands/buy.ts') },
  { path: ['demo'], load: () => import('./commands/demo.ts') },
  { path: ['version'], load: () => import('./commands/version.ts') },
]

/** The modules needed for these arguments (all of them when the first word names no module). */
export async function modulesFor(argv: string[]): Promise<CommandModule[]> {
  const words: string[] = []
  for (const a of argv) { if (a.startsWith('-')) break; words.push(a) }
  const known = MODULES.some((m) => m.path[0] === words[0])
  const picked = MODULES.filter((m) => !known || m.path.every((w, i) => i >= words.length || words[i] === w))
  return [...new Set(await Promise.all(picked.map((m) => m.load())))]
}

export function buildProgram(ctx: CliContext, modules: CommandModule[]): Command {
  const program = new Command('vend')
    .description('Sell an HTTP API or LLM inference for x402 micropayments.')
    .usage('<command> [options]')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.out(s),
      // Help requested by mistake (a group without its verb) is printed to stdout by main(); errors are formatted there.
      writeErr: (s) => ctx.io.out(s),
      outputError: () => {},
    })
  program.addHelpText('after', `
Examples:
  vend stack up                      start the stack (storefront on http://127.0.0.1:8402)
  vend sell http weather --upstream http://127.0.0.1:9000 --price 0.001 --pay-to 0x...
  vend sell list                     offers and their conditions
  vend apply -f offers.yaml          create or update offers from YAML

Run \`vend <command> --help\` for a command's options.`)
  for (const m of modules) m.register(program, ctx)
  inheritSettings(program)
  return program
}

/** Commands added by modules after our settings were applied still get the same error handling. */
function inheritSettings(cmd: Command): void {
  for (const sub of cmd.commands) {
    sub.exitOverride().showSuggestionAfterError(true).configureOutput(cmd.configureOutput())
    inheritSettings(sub)
  }
}

export async function main(argv: string[], ctx: CliContext = defaultContext()): Promise<number> {
  let program: Command | undefined
  try {
    program = buildProgram(ctx, await modulesFor(argv))
    if (argv.length === 0) {
      ctx.io.out(program.helpInformation())
      return 0
    }
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    return report(err, ctx, program, argv)
  }
}

function report(err: unknown, ctx: CliContext, program: Command | undefined, argv: string[]): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0
    ctx.io.err(`vend: ${commanderLine(err, program ? commandPath(program, argv) : 'vend')}`)
    return 2
  }
  if (err instanceof BaseError) {
    ctx.io.err(`vend: ${oneLine(err.line())}`)
    return err.exitCode
  }
  const e = err as NodeJS.ErrnoException
  const what = e?.code === 'EACCES' || e?.code === 'EPERM'
    ? `${e.message}. Check the permissions of VEND_HOME (${ctx.paths().root}).`
    : `unexpected error: ${e?.message ?? String(err)}. Please report it with the command you ran.`
  ctx.io.err(`vend: ${oneLine(what)}`)
  return 1
}

/** "error: unknown option '--pric'\n(Did you mean --price?)" -> "unknown option '--pric'. Did you mean --price?" */
export function commanderLine(err: CommanderError, path: string): string {
  const [first = '', ...rest] = err.message.replace(/^error:\s*/, '').split('\n').map((s) => s.trim()).filter(Boolean)
  const suggestion = rest.map((s) => s.replace(/^\((.*)\)$/, '$1')).join(' ')
  const head = first.endsWith('.') ? first : `${first}.`
  return `${head} ${suggestion || `Run \`${path} --help\` for usage.`}`
}

/** "vend sell http" for the deepest command the arguments name (for the help hint). */
function commandPath(program: Command, argv: string[]): string {
  const names = ['vend']
  let cmd = program
  for (const a of argv) {
    if (a.startsWith('-')) break
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a))
    if (!sub) break
    names.push(sub.name())
    cmd = sub
  }
  return names.join(' ')
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}
