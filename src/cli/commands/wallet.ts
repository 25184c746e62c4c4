/**
 * `vend wallet create | import | show | export`: the stack's encrypted signer (VEND_HOME/wallet/keystore.json).
 * Only `export` ever prints the private key, and only after confirmation (or --yes when not interactive).
 */
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { InvalidInputError } from '../../errors/base.ts'
import { promptHidden, readPassphrase } from '../../identity/passphrase.ts'
import { assertNoWallet, createWallet, exportPrivateKey, importWallet, requireWallet } from '../../identity/wallet.ts'
import type { CliContext } from '../context.ts'
import { json } from '../format.ts'

type PwFlags = { passwordFile?: string }

export function register(program: Command, ctx: CliContext): void {
  const wallet = program.command('wallet')
    .description('The stack wallet: signs ERC-8004 registrations (and local settlements).')
    .addHelpText('after', `
The passphrase comes from --password-file, VEND_WALLET_PASSWORD, or a prompt on the terminal.

Examples:
  vend wallet create
  vend wallet import --key-file ./key.txt
  vend wallet show --json
  vend wallet export`)

  const source = (flags: PwFlags) => ({ env: ctx.env, passwordFile: flags.passwordFile, canPrompt: ctx.canPrompt() })

  wallet.command('create')
    .description('Create a new random wallet, encrypted with a passphrase.')
    .option('--password-file <file>', 'read the passphrase from this file')
    .option('--json', 'print {address, keystore} as JSON')
    .action(async (flags: PwFlags & { json?: boolean }) => {
      assertNoWallet(ctx.paths())
      const password = await readPassphrase(source(flags), { confirm: true })
      const info = await createWallet(ctx.paths(), password)
      if (flags.json) return ctx.io.out(json(info))
      ctx.io.out(info.address)
      ctx.io.err(`Wallet created at ${info.keystore}. Back up this file and its passphrase: they control the stack's ERC-8004 identity.`)
    })

  wallet.command('import')
    .description('Import an existing private key from a file (or typed at a prompt).')
    .option('--key-file <file>', 'file holding the private key (0x + 64 hex digits)')
    .option('--password-file <file>', 'read the passphrase from this file')
    .option('--json', 'print {address, keystore} as JSON')
    .action(async (flags: PwFlags & { keyFile?: string; json?: boolean }) => {
      assertNoWallet(ctx.paths())
      const key = await readKey(ctx, flags.keyFile)
      const password = await readPassphrase(source(flags), { confirm: true })
      const info = await importWallet(ctx.paths(), key, password)
      if (flags.json) return ctx.io.out(json(info))
      ctx.io.out(info.address)
      ctx.io.err(`Wallet imported to ${info.keystore}.`)
    })

  wallet.command('show')
    .description('Show the wallet address (no passphrase needed).')
    .option('--json', 'print {address, keystore} as JSON')
    .action((flags: { json?: boolean }) => {
      const paths = ctx.paths()
      const address = requireWallet(paths)
      if (flags.json) return ctx.io.out(json({ address, keystore: paths.keystore }))
      ctx.io.out(address)
    })

  wallet.command('export')
    .description('Print the private key (asks first; the only command that shows it).')
    .option('--password-file <file>', 'read the passphrase from this file')
    .option('-y, --yes', 'do not ask for confirmation (required when not interactive)')
    .action(async (flags: PwFlags & { yes?: boolean }) => {
      const paths = ctx.paths()
      const address = requireWallet(paths)
      if (!flags.yes) {
        if (!ctx.canPrompt()) {
          throw new InvalidInputError('Refusing to print the private key without confirmation.', { hint: 'Run `vend wallet export --yes` if you really want it on stdout.' })
        }
        if (!(await ctx.io.confirm(`Print the private key of ${address}? Anyone who sees it controls the wallet.`))) {
          ctx.io.err('Not exported.')
          return
        }
      }
      const password = await readPassphrase(source(flags))
      ctx.io.out(await exportPrivateKey(paths, password))
    })
}

async function readKey(ctx: CliContext, keyFile: string | undefined): Promise<string> {
  if (keyFile) {
    try {
      return readFileSync(keyFile, 'utf8')
    } catch (err) {
      throw new InvalidInputError(`Cannot read the key file ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, { hint: 'Check the path given to --key-file.' })
    }
  }
  if (!ctx.canPrompt()) throw new InvalidInputError('No private key given.', { hint: 'Pass --key-file <file> (the file holds only the key).' })
  return promptHidden('Private key: ')
}
