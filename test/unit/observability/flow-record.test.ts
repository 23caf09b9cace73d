import t from 'tap'
import { AmbientError } from '../../../src/errors.js'
import { createCapturingLogger, type LogRecord } from '../../../src/observability/capturing-logger.js'
import { openFlow, type FlowOptions } from '../../../src/observability/flow-record.js'
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js'
import { samples } from './exposition.js'
import { httpbin, sleep, stranger } from './fixtures.js'

const complete = (r: LogRecord): boolean => r.msg === 'connection complete'

function setup(overrides: Partial<FlowOptions> = {}, { hbone = true } = {}) {
  const capture = createCapturingLogger()
  const metrics = createMetrics()
  let clock = 1_000_000
  const flow = openFlow({
    reporter: 'source',
    direction: 'outbound',
    src: sleep,
    dst: httpbin,
    ...(hbone ? { dstHboneAddr: '10.0.0.2:15008' } : {}),
    securityPolicy: 'mutual_tls',
    logger: capture.logger,
    metrics,
    now: () => clock,
    ...overrides,
  })
  return { flow, capture, metrics, advance: (ms: number) => void (clock += ms) }
}

async function count(metrics: Metrics, name: string, flags?: string): Promise<number> {
  return samples(await metrics.render(), name)
    .filter((s) => flags === undefined || s.labels.response_flags === flags)
    .reduce((n, s) => n + s.value, 0)
}

t.test('a clean close writes one access-log line with ztunnel fields', async (t) => {
  const { flow, capture, metrics, advance } = setup()
  t.equal(await count(metrics, 'istio_tcp_connections_opened_total'), 1, 'opened at open')
  t.equal(await count(metrics, 'istio_tcp_connections_closed_total'), 0)
  flow.addReceived(1200)
  flow.addSent(300)
  advance(42.5)
  t.equal(flow.close(), true)

  const lines = capture.filter(complete)
  t.equal(lines.length, 1)
  t.same(lines[0], {
    level: 'info',
    time: lines[0]!.time,
    component: 'test',
    scope: 'access',
    msg: 'connection complete',
    'src.addr': '10.0.0.1:40000',
    'src.workload': 'sleep',
    'src.namespace': 'default',
    'src.identity': 'spiffe://cluster.local/ns/default/sa/sleep',
    'dst.addr': '10.0.0.2:8080',
    'dst.hbone_addr': '10.0.0.2:15008',
    'dst.service': 'httpbin.apps.svc.cluster.local',
    'dst.workload': 'httpbin',
    'dst.namespace': 'apps',
    'dst.identity': 'spiffe://cluster.local/ns/apps/sa/httpbin',
    direction: 'outbound',
    bytes_sent: 300,
    bytes_recv: 1200,
    duration: 42.5,
  })
  t.match(flow.result, { bytesSent: 300, bytesReceived: 1200, durationMs: 42.5, responseFlags: '-' })
  t.equal(await count(metrics, 'istio_tcp_connections_closed_total', '-'), 1)
})

t.test('double close: exactly one line, one closed count; bytes after close ignored', async (t) => {
  const { flow, capture, metrics } = setup()
  flow.addReceived(10)
  t.equal(flow.close(), true)
  flow.addReceived(99)
  flow.addSent(99)
  t.equal(flow.close({ error: new AmbientError('AUTHZ_DENIED', 'late') }), false)
  t.equal(flow.close(), false)
  t.equal(capture.filter(complete).length, 1)
  t.equal(capture.filter(complete)[0]!.level, 'info', 'the first close decides')
  t.equal(await count(metrics, 'istio_tcp_connections_closed_total'), 1)
  t.equal(await count(metrics, 'istio_tcp_received_bytes_total'), 10)
  t.equal(await count(metrics, 'istio_tcp_sent_bytes_total'), 0)
  t.equal(flow.bytesReceived, 10)
})

t.test('error paths: error text, code and response flag', async (t) => {
  const cases = [
    { code: 'AUTHZ_DENIED', flag: 'DENY', message: 'connection closed due to policy rejection: allow policies exist, but none allowed' },
    {
      code: 'HBONE_CONNECT_TIMEOUT',
      flag: 'NETWORK_POLICY',
      message: 'connect timeout; maybe a NetworkPolicy is blocking HBONE port 15008',
    },
    { code: 'ECONNREFUSED', flag: 'CONNECT', message: 'connect ECONNREFUSED 10.0.0.2:8080' },
    { code: 'SOMETHING_ELSE', flag: '-', message: 'odd' },
  ]
  for (const c of cases) {
    const { flow, capture, metrics } = setup()
    const error = c.code.startsWith('E') ? Object.assign(new Error(c.message), { code: c.code }) : new AmbientError(c.code, c.message)
    flow.close({ error })
    flow.close({ error })
    const lines = capture.filter(complete)
    t.equal(lines.length, 1, c.code)
    t.match(lines[0], { level: 'error', error: c.message, error_code: c.code, response_flags: c.flag }, c.code)
    t.equal(await count(metrics, 'istio_tcp_connections_closed_total', c.flag), 1, `${c.code}: closed with ${c.flag}`)
    t.equal(await count(metrics, 'istio_tcp_connections_opened_total', '-'), 1, `${c.code}: opened has no flag`)
  }
})

t.test('explicit responseFlags beats the derived one', async (t) => {
  const { flow, capture, metrics } = setup()
  flow.close({ error: new AmbientError('ZTUNNEL_WHATEVER', 'x'), responseFlags: 'IDENTITY_ERROR' })
  t.equal(capture.filter(complete)[0]!.response_flags, 'IDENTITY_ERROR')
  t.equal(await count(metrics, 'istio_tcp_connections_closed_total', 'IDENTITY_ERROR'), 1)
})

t.test('unknown peers: the log leaves out what we do not know', async (t) => {
  const { flow, capture } = setup(
    { src: stranger, dst: { addr: '10.0.0.2:8080' }, direction: 'inbound', reporter: 'destination', securityPolicy: 'unknown' },
    { hbone: false },
  )
  flow.close()
  const [line] = capture.filter(complete)
  t.equal(line!['src.addr'], '192.168.1.9:5555')
  t.equal(line!.direction, 'inbound')
  for (const k of ['src.workload', 'src.identity', 'dst.hbone_addr', 'dst.service', 'dst.workload', 'dst.identity', 'error'])
    t.notOk(k in line!, `${k} absent`)
})

t.test('onClose listeners run once, also when added after close', async (t) => {
  const { flow } = setup()
  const seen: string[] = []
  flow.onClose((r) => seen.push(`before:${r.responseFlags}`))
  flow.close({ error: new AmbientError('TLS_HANDSHAKE_FAILED', 'bad cert') })
  flow.close()
  flow.onClose((r) => seen.push(`after:${r.responseFlags}`))
  t.same(seen, ['before:TLS_FAILURE', 'after:TLS_FAILURE'])
})

t.test('ids are unique unless given; elapsed uses the injected clock', async (t) => {
  const a = setup()
  const b = setup()
  t.not(a.flow.id, b.flow.id)
  t.equal(setup({ id: 'fixed' }).flow.id, 'fixed')
  a.advance(7)
  t.equal(a.flow.elapsedMs(), 7)
  t.equal(a.flow.startedAtMs, 1_000_000)
})

t.test('default clock works without injection', async (t) => {
  const capture = createCapturingLogger()
  const flow = openFlow({
    reporter: 'waypoint',
    direction: 'inbound',
    src: sleep,
    dst: httpbin,
    securityPolicy: 'mutual_tls',
    logger: capture.logger,
    metrics: createMetrics(),
  })
  flow.close()
  const line = await capture.waitFor(complete)
  t.type(line.duration, 'number')
  t.ok((line.duration as number) >= 0)
  t.ok(Math.abs(flow.startedAtMs - Date.now()) < 5000)
})

t.test("a live flow shows the watched pipe's bytes; the final add replaces them, metrics count only adds", async (t) => {
  const { flow, metrics } = setup()
  const pipe = { sent: 0, received: 0 }
  flow.watchBytes(() => pipe)
  pipe.sent = 300
  pipe.received = 40
  t.same([flow.bytesSent, flow.bytesReceived], [300, 40], 'busy connection: live counts before close')
  pipe.sent = 5000
  t.equal(flow.bytesSent, 5000, 'and they move')
  t.equal(await count(metrics, 'istio_tcp_sent_bytes_total'), 0, 'metrics never read the live counts')
  flow.addSent(5000)
  flow.addReceived(40)
  pipe.sent = 99_999
  t.same([flow.bytesSent, flow.bytesReceived], [5000, 40], 'the final counts, not twice')
  flow.close()
  t.same([flow.result!.bytesSent, flow.result!.bytesReceived], [5000, 40])
  flow.watchBytes(() => ({ sent: 1, received: 1 }))
  t.equal(flow.bytesSent, 5000, 'a closed flow takes no live source')
})
