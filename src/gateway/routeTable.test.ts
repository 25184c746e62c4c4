import { test } from 'node:test'
import assert from 'node:assert/strict'
import { longestPrefix } from './routeTable.ts'

test('longestPrefix matches whole segments only, longest first, whatever the table size', () => {
  const map = new Map<string, string>([['/services/a', 'a'], ['/services/a/b', 'ab'], ['/x', 'x']])
  for (let i = 0; i < 10_000; i++) map.set(`/services/filler-${i}`, `f${i}`)
  const maxLen = Math.max(...[...map.keys()].map((k) => k.length))
  const cases: [string, string | undefined][] = [
    ['/services/a', 'a'], ['/services/a/', 'a'], ['/services/a/b', 'ab'], ['/services/a/b/', 'ab'], ['/services/a/bc', 'a'],
    ['/services/ab', undefined], ['/services', undefined], ['/', undefined], ['/x/y/z/' + 'q/'.repeat(2_000), 'x'],
    ['/services/filler-42/deep', 'f42'], ['/services/filler-4', 'f4'],
  ]
  for (const [path, want] of cases) assert.equal(longestPrefix(map, path, maxLen), want, path)
})

test('longestPrefix with root: the empty prefix matches last ("/*" routes)', () => {
  const map = new Map([['', 'all'], ['/free', 'free']])
  assert.equal(longestPrefix(map, '/free/x', 5, true), 'free')
  assert.equal(longestPrefix(map, '/other', 5, true), 'all')
  assert.equal(longestPrefix(map, '/', 5, true), 'all')
  assert.equal(longestPrefix(map, '/other', 5), undefined)
})
