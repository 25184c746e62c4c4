/** `vend version` and `vend --version`. */
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'
import { json } from '../format.ts'

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version

export function register(program: Command, ctx: CliContext): void {
  program.version(VERSION, '-V, --version', 'print the version')
  program.command('version')
    .description('Print the Vend version.')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) => {
      ctx.io.out(flags.json ? json({ version: VERSION, node: process.version }) : `vend ${VERSION} (node ${process.version})`)
    })
}
