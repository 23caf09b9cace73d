import t from 'tap'
import { statusForOutcome } from '../../../src/hbone/status.js'
import type { ConnectOutcome } from '../../../src/hbone/status.js'

t.test('each outcome has one status', async (t) => {
  const table: Array<[ConnectOutcome, number]> = [
    [{ kind: 'accept', serve: () => undefined, cancel: () => undefined }, 200],
    [{ kind: 'bad-request', reason: 'ip mismatch: 10.0.0.1 != 10.0.0.2' }, 400],
    [{ kind: 'denied', reason: 'allow policies exist, but none allowed' }, 401],
    [{ kind: 'unavailable', reason: 'connection refused' }, 503],
  ]
  for (const [outcome, status] of table) t.equal(statusForOutcome(outcome), status, outcome.kind)
})

t.test('an unknown kind is an internal error, not a status', async (t) => {
  t.throws(() => statusForOutcome({ kind: 'maybe' } as unknown as ConnectOutcome), { code: 'INTERNAL_UNREACHABLE' })
})
