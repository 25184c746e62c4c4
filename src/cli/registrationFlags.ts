/**
 * The ERC-8004 registration flags, shared by `sell http` and `sell inference` so both build
 * spec.registration the same way. Registration is on unless --no-register; `enabled` is always written.
 */
import { Option, type Command } from 'commander'
import { InvalidInputError } from '../errors/base.ts'
import { collect, parseKeyValue } from './flagValues.ts'

export type RegistrationFlags = {
  register?: boolean
  registerName?: string
  registerDescription?: string
  registerImage?: string
  registerSkills?: string[]
  registerDomains?: string[]
  registerMetadata?: string[]
}

export type RegistrationInput = {
  enabled: boolean
  name?: string
  description?: string
  image?: string
  skills?: string[]
  domains?: string[]
  metadata?: Record<string, string>
}

const DETAIL_FLAGS: [keyof RegistrationFlags, string][] = [
  ['registerName', '--register-name'], ['registerDescription', '--register-description'], ['registerImage', '--register-image'],
  ['registerSkills', '--register-skills'], ['registerDomains', '--register-domains'], ['registerMetadata', '--register-metadata'],
]

export function addRegistrationFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--no-register', 'do not register the offer on the ERC-8004 identity registry (registration is on by default)'))
    .addOption(new Option('--register-name <name>', 'agent name in the registration file (default: the offer name)'))
    .addOption(new Option('--register-description <text>', 'agent description in the registration file'))
    .addOption(new Option('--register-image <url>', 'agent image URL'))
    .addOption(new Option('--register-skills <skill>', 'OASF skill path, repeatable').argParser(collect))
    .addOption(new Option('--register-domains <domain>', 'OASF domain, repeatable').argParser(collect))
    .addOption(new Option('--register-metadata <key=value>', 'extra metadata entry, repeatable').argParser(collect))
}

/** spec.registration from the flags: only what was given, plus `enabled`. */
export function buildRegistration(flags: RegistrationFlags): RegistrationInput {
  const given = DETAIL_FLAGS.filter(([k]) => flags[k] !== undefined)
  if (flags.register === false) {
    if (given.length) {
      throw new InvalidInputError(`--no-register cannot be combined with ${given.map(([, f]) => f).join(', ')}.`, {
        hint: 'Drop --no-register to register the offer, or drop the --register-* flags.',
      })
    }
    return { enabled: false }
  }
  const out: RegistrationInput = { enabled: true }
  if (flags.registerName !== undefined) out.name = flags.registerName
  if (flags.registerDescription !== undefined) out.description = flags.registerDescription
  if (flags.registerImage !== undefined) out.image = flags.registerImage
  if (flags.registerSkills) out.skills = flags.registerSkills
  if (flags.registerDomains) out.domains = flags.registerDomains
  if (flags.registerMetadata) {
    out.metadata = Object.fromEntries(flags.registerMetadata.map((kv) => parseKeyValue(kv, '--register-metadata')))
  }
  return out
}
