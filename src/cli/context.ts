/**
 * What every command gets: where VEND_HOME is, the output streams, whether it may prompt, the environment.
 * Command modules (cli/commands/<noun>.ts) export `register(program, ctx)` and add their subcommands.
 * Data goes to stdout, notices and progress to stderr. Failures throw BaseError; main() prints one line.
 */
import type { Command } from 'commander'
import type { Engine } from '../engine/api.ts'
import { homePaths, vendHome, type HomePaths } from '../state/home.ts'

export type CliIO = {
  out: (text: string) => void
  err: (text: string) => void
  stdoutIsTTY: boolean
  stdinIsTTY: boolean
  /** Ask a yes/no question on the terminal (only called when canPrompt). */
  confirm: (question: string) => Promise<boolean>
}

export type CliContext = {
  io: CliIO
  env: NodeJS.ProcessEnv
  paths: () => HomePaths
  /** stdin and stdout are terminals and prompting was not disabled. */
  canPrompt: () => boolean
  /** The stack's engine; tests may inject one. Default: the embedded daemon engine for paths() (see cli/engine.ts). */
  engine?: () => Engine | Promise<Engine>
}

export type CommandModule = { register: (program: Command, ctx: CliContext) => void }

export function defaultContext(env: NodeJS.ProcessEnv = process.env): CliContext {
  const io: CliIO = {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    confirm: async (q) => {
      const { createInterface } = await import('node:readline/promises')
      const rl = createInterface({ input: process.stdin, output: process.stderr })
      try { return /^y(es)?$/i.test((await rl.question(`${q} [y/N] `)).trim()) } finally { rl.close() }
    },
  }
  return {
    io, env,
    paths: () => homePaths(vendHome(env)),
    canPrompt: () => io.stdinIsTTY && io.stdoutIsTTY && env.VEND_NO_PROMPT !== '1' && env.CI !== 'true',
  }
}
