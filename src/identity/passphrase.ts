/**
 * Where the wallet passphrase comes from, in order: --password-file, VEND_WALLET_PASSWORD, a terminal prompt
 * without echo. Non-interactive without any of them is an error naming the options. The passphrase is never
 * logged or echoed.
 */
import { readFileSync } from 'node:fs'
import { BaseError } from '../errors/base.ts'

export type PassphraseSource = {
  env: NodeJS.ProcessEnv
  passwordFile?: string | undefined
  /** A terminal is attached and prompting is allowed. */
  canPrompt: boolean
  /** Ask without echo (default: the terminal prompt below). */
  prompt?: (question: string) => Promise<string>
}

export class PassphraseRequiredError extends BaseError {
  override name = 'PassphraseRequiredError'
}

/** The passphrase to unlock (or, with `confirm`, to create) the wallet. */
export async function readPassphrase(src: PassphraseSource, opts: { confirm?: boolean } = {}): Promise<string> {
  if (src.passwordFile) return readPasswordFile(src.passwordFile)
  const fromEnv = src.env.VEND_WALLET_PASSWORD
  if (fromEnv) return fromEnv
  if (!src.canPrompt) {
    throw new PassphraseRequiredError('The wallet passphrase is needed but there is no terminal to ask for it.', {
      hint: 'Set VEND_WALLET_PASSWORD, or pass --password-file <file>.',
    })
  }
  const ask = src.prompt ?? promptHidden
  const first = await ask(opts.confirm ? 'New wallet passphrase: ' : 'Wallet passphrase: ')
  if (!first) throw new PassphraseRequiredError('The passphrase is empty.', { hint: 'Type a non-empty passphrase.' })
  if (opts.confirm && (await ask('Repeat the passphrase: ')) !== first) {
    throw new PassphraseRequiredError('The two passphrases differ.', { hint: 'Run the command again and type the same passphrase twice.' })
  }
  return first
}

function readPasswordFile(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new PassphraseRequiredError(`Cannot read the password file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, {
      hint: 'Check the path given to --password-file.',
    })
  }
  // One trailing newline is part of how files are written, not of the passphrase.
  const pw = text.replace(/\r?\n$/, '')
  if (!pw) throw new PassphraseRequiredError(`The password file ${file} is empty.`, { hint: 'Write the passphrase into it.' })
  return pw
}

/** Read one line from the terminal with echo off (raw mode), printing the question on stderr. */
export function promptHidden(question: string): Promise<string> {
  const { stdin, stderr } = process
  return new Promise((resolve, reject) => {
    let value = ''
    stderr.write(question)
    const wasRaw = stdin.isRaw
    stdin.setRawMode?.(true)
    stdin.resume()
    stdin.setEncoding('utf8')
    const done = (err?: Error) => {
      stdin.off('data', onData)
      stdin.setRawMode?.(wasRaw)
      stdin.pause()
      stderr.write('\n')
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done()
        if (ch === '\u0003') return done(new PassphraseRequiredError('Cancelled.', { exitCode: 130 }))
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else value += ch
      }
    }
    stdin.on('data', onData)
  })
}
