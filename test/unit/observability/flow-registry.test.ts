import t from 'tap'
import { AmbientError } from '../../../src/errors.js'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { openFlow, type FlowOptions } from '../../../src/observability/flow-record.js'
import { FlowTerminationCode, createFlowRegistry, flowTermination } from '../../../src/observability/flow-registry.js'
import { createMetrics } from '../../../src/observability/metrics.js'
import { samples } from './exposition.js'
import { httpbin, sleep, stranger } from './fixtures.js'

function setup() {
  const capture = createCapturingLogger()
  const metrics = createMetrics()
  const registry = createFlowRegistry()
  let clock = Date.parse('2026-11-01T10:00:00.000Z')
  const options = (over: Partial<FlowOptions> = {}): FlowOptions => ({
    reporter: 'destination',
    direction: 'inbound',
    src: sleep,
    dst: httpbin,
    securityPolicy: 'mutual_tls',
    logger: capture.logger,
    metrics,
    now: () => clock,
    ...over,
  })
  const completes = () => capture.filter((r) => r.msg === 'connection complete')
  return { capture, metrics, registry, options, completes, advance: (ms: number) => void (clock += ms) }
}

t.test('flows join on open and leave on close', async (t) => {
  const { registry, options, advance } = setup()
  const a = registry.open(options({ id: 'a', dstHboneAddr: '10.0.0.2:15008' }))
  const b = registry.open(options({ id: 'b', src: stranger, securityPolicy: 'unknown' }))
  t.equal(registry.size, 2)
  t.equal(registry.get('a'), a)
  a.addReceived(5)
  a.addSent(7)
  advance(1500)
  t.same(
    registry.list().find((f) => f.id === 'a'),
    {
      id: 'a',
      reporter: 'destination',
      direction: 'inbound',
      src: { addr: '10.0.0.1:40000', workload: 'sleep', namespace: 'default', identity: 'spiffe://cluster.local/ns/default/sa/sleep' },
      dst: {
        addr: '10.0.0.2:8080',
        workload: 'httpbin',
        namespace: 'apps',
        identity: 'spiffe://cluster.local/ns/apps/sa/httpbin',
        service: 'httpbin.apps.svc.cluster.local',
      },
      dstHboneAddr: '10.0.0.2:15008',
      securityPolicy: 'mutual_tls',
      startedAt: '2026-11-01T10:00:00.000Z',
      durationMs: 1500,
      bytesSent: 7,
      bytesReceived: 5,
    },
  )
  t.same(registry.list().find((f) => f.id === 'b')!.src, { addr: '192.168.1.9:5555' })
  t.same(JSON.parse(JSON.stringify(registry.list())), registry.list(), 'JSON-ready')
  a.close()
  t.equal(registry.size, 1)
  t.equal(registry.get('a'), undefined)
  t.equal(registry.terminate('a', flowTermination('drain')), false, 'a closed flow cannot be terminated')
  b.close()
  t.same(registry.list(), [])
})

t.test('terminate: terminator stops I/O, the record gets the reason, exactly once', async (t) => {
  const { registry, options, completes, metrics } = setup()
  const calls: string[] = []
  const flow = registry.open(options({ id: 'x' }), (reason) => {
    calls.push(reason.code)
    // A socket teardown typically reports its own error on the same flow: it must not win.
    flow.addReceived(3)
  })
  t.equal(registry.terminate('x', flowTermination('policyChange')), true)
  flow.close({ error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) })
  t.same(calls, [FlowTerminationCode.policyChange])
  t.equal(registry.size, 0)
  const lines = completes()
  t.equal(lines.length, 1)
  t.match(lines[0], {
    error: 'connection closed due to policy change',
    error_code: 'FLOW_POLICY_CHANGE',
    response_flags: 'DENY',
    bytes_recv: 3,
  })
  const closed = samples(await metrics.render(), 'istio_tcp_connections_closed_total')
  t.equal(closed.length, 1)
  t.equal(closed[0]!.labels.response_flags, 'DENY')
})

t.test('terminate without a terminator, or with one that throws, still records once', async (t) => {
  const { registry, options, completes } = setup()
  registry.open(options({ id: 'plain' }))
  registry.open(options({ id: 'throws' }), () => {
    throw new Error('boom')
  })
  t.equal(registry.terminate('plain', flowTermination('drain')), true)
  t.throws(() => registry.terminate('throws', flowTermination('drain')), /boom/)
  t.equal(registry.size, 0)
  t.same(
    completes().map((r) => [r.error, r.response_flags]),
    [
      ['connection closed due to connection drain', '-'],
      ['connection closed due to connection drain', '-'],
    ],
  )
})

t.test('terminateWhere picks flows; terminateAll drains; whenEmpty resolves', async (t) => {
  const { registry, options, capture, metrics, completes } = setup()
  registry.open(options({ id: 'from-sleep' }))
  registry.open(options({ id: 'from-stranger', src: stranger }))
  registry.open(options({ id: 'also-sleep' }))
  // A flow opened elsewhere and added later, with its terminator known only then.
  const late = openFlow(options({ id: 'late' }))
  let lateStopped = 0
  registry.add(late)
  registry.add(late, () => void lateStopped++)
  t.equal(registry.size, 4)

  const denied = registry.terminateWhere((f) => f.src.workload === 'sleep', flowTermination('policyChange', { policy: 'apps/deny-sleep' }))
  t.equal(denied, 3)
  t.equal(lateStopped, 1, 'replaced terminator was used')
  t.same(
    registry.list().map((f) => f.id),
    ['from-stranger'],
  )

  const empty = registry.whenEmpty()
  t.equal(registry.terminateAll(flowTermination('drain')), 1)
  await empty
  await registry.whenEmpty()
  t.equal(completes().length, 4)
  t.equal(capture.filter((r) => r.error_code === 'FLOW_DRAIN').length, 1)
  t.equal(
    samples(await metrics.render(), 'istio_tcp_connections_closed_total').reduce((n, s) => n + s.value, 0),
    4,
  )
})

t.test('a closed flow is not added', async (t) => {
  const { registry, options } = setup()
  const flow = openFlow(options())
  flow.close({ error: new AmbientError('AUTHZ_DENIED', 'no') })
  registry.add(flow)
  t.equal(registry.size, 0)
})
