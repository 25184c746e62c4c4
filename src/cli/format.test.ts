import { test } from 'node:test'
import assert from 'node:assert/strict'
import { conditionLines, table } from './format.ts'
import { formatLogLine } from './stack/logs.ts'

test('conditions get icons by meaning: Draining=False (not draining) is fine, Drained is not', () => {
  const lines = conditionLines([
    { type: 'Valid', status: 'True', reason: 'Valid', message: 'ok' },
    { type: 'UpstreamHealthy', status: 'False', reason: 'Unhealthy', message: 'down' },
    { type: 'PaymentGateReady', status: 'Unknown', reason: 'Checking', message: '?' },
    { type: 'Registered', status: 'True', reason: 'Disabled', message: 'off' },
    { type: 'Draining', status: 'False', reason: 'Active', message: 'not draining' },
    { type: 'Draining', status: 'True', reason: 'Draining', message: 'until' },
    { type: 'Draining', status: 'False', reason: 'Drained', message: 'gone' },
  ])
  assert.deepEqual(lines.map((l) => l.trim().split(' ')[0]), ['✓', '✗', '…', 'ℹ', '✓', 'ℹ', '✗'])
  assert.equal(lines[0], '  ✓ Valid             Valid      ok')
})

test('tables align columns; log lines read as text', () => {
  assert.equal(table(['A', 'BB'], [['xxx', 'y'], ['z', '']]), 'A    BB\nxxx  y\nz')
  assert.equal(formatLogLine('{"t":"T","level":"info","msg":"Reconciled offers","offers":3,"note":"a b"}'), 'T INFO  Reconciled offers offers=3 note="a b"')
  assert.equal(formatLogLine('not json'), 'not json')
})
