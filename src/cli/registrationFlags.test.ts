import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Command } from 'commander'
import { InvalidInputError } from '../errors/base.ts'
import { addRegistrationFlags, buildRegistration, type RegistrationFlags } from './registrationFlags.ts'

function parse(args: string[]): RegistrationFlags {
  const cmd = addRegistrationFlags(new Command('x').exitOverride())
  cmd.parse(args, { from: 'user' })
  return cmd.opts<RegistrationFlags>()
}

test('registration is on by default and only given fields are written', () => {
  assert.deepEqual(buildRegistration(parse([])), { enabled: true })
  assert.deepEqual(buildRegistration(parse(['--no-register'])), { enabled: false })
})

test('every --register-* flag lands in spec.registration; repeatable ones accumulate', () => {
  const r = buildRegistration(parse([
    '--register-name', 'Weather', '--register-description', 'Forecasts', '--register-image', 'https://x/i.png',
    '--register-skills', 'a/b', '--register-skills', 'c/d', '--register-domains', 'weather',
    '--register-metadata', 'team=sky', '--register-metadata', 'tier=gold=1',
  ]))
  assert.deepEqual(r, {
    enabled: true, name: 'Weather', description: 'Forecasts', image: 'https://x/i.png',
    skills: ['a/b', 'c/d'], domains: ['weather'], metadata: { team: 'sky', tier: 'gold=1' },
  })
})

test('--no-register with any --register-* flag is an error naming the flags', () => {
  assert.throws(() => buildRegistration(parse(['--no-register', '--register-name', 'x', '--register-domains', 'd'])),
    (e: unknown) => e instanceof InvalidInputError && e.exitCode === 2 && /--no-register cannot be combined with --register-name, --register-domains/.test(e.message))
  assert.throws(() => buildRegistration(parse(['--register-metadata', 'novalue'])), /Invalid --register-metadata "novalue": expected key=value/)
})
