/** README.md stays true: its offer file validates, and every `vend ...` line it shows names real commands and flags. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { parseOfferDocuments } from '../offer/parseOffers.ts'
import { resolveOffer } from '../offer/resolveOffer.ts'
import { defaultContext } from './context.ts'
import { buildProgram, modulesFor } from './main.ts'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

test('the README offer file is a valid offer', () => {
  const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1]
  assert.ok(yaml, 'README has a yaml block')
  const [doc] = parseOfferDocuments(yaml, 'README.md')
  assert.ok(doc?.ok, doc && !doc.ok ? doc.problem.message : 'no document')
  resolveOffer(doc.offer)
})

test('every vend command line in the README names a real command and real flags', async () => {
  const program = buildProgram(defaultContext({}), await modulesFor([]))
  const lines = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.replace(/\\\n\s*/g, ' ').split('\n'))
  const commands = lines.flatMap((l) => l.split('&&')).map((l) => l.replace(/#.*$/, '').trim()).filter((l) => /^(bin\/)?vend /.test(l))
  assert.ok(commands.length > 5)
  for (const line of commands) {
    const words = line.split(/\s+/).slice(1)
    let cmd: Command = program
    for (const w of words) {
      const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w))
      if (!sub) break
      cmd = sub
    }
    assert.notEqual(cmd, program, `${line}: no such command`)
    for (const flag of words.filter((w) => w.startsWith('-')).map((w) => w.replace(/[[\]]/g, '').split('=')[0]!)) {
      if (flag === '-' || flag === '--help') continue
      assert.ok(cmd.options.some((o) => o.long === flag || o.short === flag), `${line}: unknown flag ${flag}`)
    }
  }
})
