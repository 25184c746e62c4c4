/** VEND_HOME layout. Every path the stack reads or writes is derived here, never built ad hoc. */
import { homedir } from 'node:os'
import { join, resolve, sep } from 'node:path'
import { InvalidInputError } from '../errors/base.ts'
import { NAME_PATTERN } from '../offer/schema.ts'

export type HomePaths = {
  root: string
  stackYaml: string
  offersDir: string
  purchasesDir: string
  stateDir: string
  db: string
  socket: string
  log: string
  devchainDir: string
  keystore: string
}

export function vendHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.VEND_HOME || join(homedir(), '.vend'))
}

export function homePaths(root = vendHome()): HomePaths {
  const stateDir = join(root, 'state')
  return {
    root,
    stackYaml: join(root, 'stack.yaml'),
    offersDir: join(root, 'offers'),
    purchasesDir: join(root, 'purchases'),
    stateDir,
    db: join(stateDir, 'vend.db'),
    // unix socket paths are limited to ~107 bytes; the engine falls back to a short tmp path when longer.
    socket: join(stateDir, 'vend.sock'),
    log: join(stateDir, 'daemon.log'),
    devchainDir: join(stateDir, 'devchain'),
    keystore: join(root, 'wallet', 'keystore.json'),
  }
}

const nameRe = new RegExp(NAME_PATTERN)

/** Validate a name used as a path segment (offer, namespace, purchase): it can never escape VEND_HOME. */
export function assertName(value: string, what: string, flag?: string): string {
  if (!nameRe.test(value)) {
    throw new InvalidInputError(`Invalid ${what} "${value}"${flag ? ` for ${flag}` : ''}: use lowercase letters, digits and "-" (1-63 chars, starting and ending with a letter or digit).`)
  }
  return value
}

export function offerFile(paths: HomePaths, namespace: string, name: string): string {
  const p = join(paths.offersDir, assertName(namespace, 'namespace'), `${assertName(name, 'offer name')}.yaml`)
  if (!p.startsWith(paths.offersDir + sep)) throw new InvalidInputError(`Offer path escapes ${paths.offersDir}.`)
  return p
}
