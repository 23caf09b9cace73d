// The DNS proxy's failure lines: one per kind per interval, with the count left out since the last.
import t from 'tap'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { createFailureLog } from '../../../src/ztunnel/dns/failure-log.js'

t.test('one line per kind per interval; the next line counts the suppressed ones', async (t) => {
  const log = createCapturingLogger()
  let now = 1_000
  const failures = createFailureLog(log.logger, 10_000, () => now)
  failures.failure('timeout', { domain: 'a' }, 'DNS forwarding failed')
  failures.failure('timeout', { domain: 'b' }, 'DNS forwarding failed')
  failures.failure('timeout', { domain: 'c' }, 'DNS forwarding failed')
  failures.failure('malformed', { reason: 'x' }, 'malformed DNS query')
  now += 10_000
  failures.failure('timeout', { domain: 'd' }, 'DNS forwarding failed')
  const lines = log
    .filter((r) => r.event === 'dns_failure')
    .map((r) => ({ kind: r.kind, domain: r.domain, suppressed: r.suppressed, level: r.level }))
  t.same(lines, [
    { kind: 'timeout', domain: 'a', suppressed: undefined, level: 'warn' },
    { kind: 'malformed', domain: undefined, suppressed: undefined, level: 'warn' },
    { kind: 'timeout', domain: 'd', suppressed: 2, level: 'warn' },
  ])
})
