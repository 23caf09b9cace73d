import t from 'tap'
import { performance } from 'node:perf_hooks'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { openFlow } from '../../../src/observability/flow-record.js'
import {
  EVENT_LOOP_MONITORING_PRECISION_MS,
  REQUEST_DURATION_BUCKETS_MS,
  createMetrics,
  recordRequest,
} from '../../../src/observability/metrics.js'
import { HTTP_LABEL_NAMES, TCP_LABEL_NAMES } from '../../../src/observability/traffic-labels.js'
import { parseExposition, samples } from './exposition.js'
import { httpbin, sleep, stranger } from './fixtures.js'

const TCP_METRICS = [
  'istio_tcp_connections_opened_total',
  'istio_tcp_connections_closed_total',
  'istio_tcp_sent_bytes_total',
  'istio_tcp_received_bytes_total',
]

t.test('TCP metrics carry Istio names and the full label set', async (t) => {
  const metrics = createMetrics()
  const { logger } = createCapturingLogger()
  const flow = openFlow({
    reporter: 'source',
    direction: 'outbound',
    src: sleep,
    dst: httpbin,
    securityPolicy: 'mutual_tls',
    logger,
    metrics,
  })
  flow.addReceived(100)
  flow.addSent(40)
  flow.close()
  const text = await metrics.render()

  for (const name of TCP_METRICS) {
    const found = samples(text, name)
    t.equal(found.length, 1, `${name}: one series`)
    t.same(Object.keys(found[0]!.labels).sort(), [...TCP_LABEL_NAMES].sort(), `${name}: full label set`)
    t.match(text, `# TYPE ${name} counter`)
  }
  const [opened] = samples(text, 'istio_tcp_connections_opened_total')
  t.match(opened!.labels, {
    reporter: 'source',
    source_workload: 'sleep',
    source_canonical_service: 'sleep',
    source_canonical_revision: 'v1',
    source_workload_namespace: 'default',
    source_principal: 'spiffe://cluster.local/ns/default/sa/sleep',
    source_app: 'sleep',
    source_version: 'v1',
    source_cluster: 'Kubernetes',
    destination_service: 'httpbin.apps.svc.cluster.local',
    destination_service_namespace: 'apps',
    destination_service_name: 'httpbin',
    destination_workload: 'httpbin',
    destination_canonical_service: 'httpbin',
    destination_canonical_revision: 'v2',
    destination_workload_namespace: 'apps',
    destination_principal: 'spiffe://cluster.local/ns/apps/sa/httpbin',
    destination_app: 'httpbin',
    destination_version: 'v2',
    destination_cluster: 'Kubernetes',
    request_protocol: 'tcp',
    response_flags: '-',
    connection_security_policy: 'mutual_tls',
  })
  t.equal(opened!.value, 1)
  t.equal(samples(text, 'istio_tcp_connections_closed_total')[0]!.value, 1)
  // received = client → server.
  t.equal(samples(text, 'istio_tcp_received_bytes_total')[0]!.value, 100)
  t.equal(samples(text, 'istio_tcp_sent_bytes_total')[0]!.value, 40)
})

t.test('unknown values are the string "unknown"', async (t) => {
  const metrics = createMetrics()
  const { logger } = createCapturingLogger()
  openFlow({
    reporter: 'destination',
    direction: 'inbound',
    src: stranger,
    dst: { addr: '10.0.0.2:80', workload: '' },
    securityPolicy: 'unknown',
    logger,
    metrics,
  })
  const [opened] = samples(await metrics.render(), 'istio_tcp_connections_opened_total')
  for (const name of TCP_LABEL_NAMES) {
    if (['reporter', 'request_protocol', 'response_flags'].includes(name)) continue
    t.equal(opened!.labels[name], 'unknown', name)
  }
  t.equal(opened!.labels.reporter, 'destination')
  t.equal(opened!.labels.response_flags, '-')
})

t.test('each Metrics has its own registry', async (t) => {
  const a = createMetrics()
  const b = createMetrics()
  const { logger } = createCapturingLogger()
  openFlow({ reporter: 'source', direction: 'outbound', src: sleep, dst: httpbin, securityPolicy: 'mutual_tls', logger, metrics: a })
  t.equal(samples(await a.render(), 'istio_tcp_connections_opened_total').length, 1)
  t.equal(samples(await b.render(), 'istio_tcp_connections_opened_total').length, 0)
  t.match(a.contentType, /^text\/plain/)
})

t.test('live flows show their bytes at each scrape, once', async (t) => {
  const metrics = createMetrics()
  const { logger } = createCapturingLogger()
  const flow = openFlow({
    reporter: 'source',
    direction: 'outbound',
    src: sleep,
    dst: httpbin,
    securityPolicy: 'mutual_tls',
    logger,
    metrics,
  })
  flow.addReceived(10)
  t.equal(samples(await metrics.render(), 'istio_tcp_received_bytes_total')[0]!.value, 10)
  // A second scrape must not add the same bytes again.
  t.equal(samples(await metrics.render(), 'istio_tcp_received_bytes_total')[0]!.value, 10)
  flow.addReceived(5)
  // Scraping through the registry directly flushes too (prom-client collect()).
  t.equal(samples(await metrics.registry.metrics(), 'istio_tcp_received_bytes_total')[0]!.value, 15)
  flow.addReceived(1)
  flow.close()
  t.equal(samples(await metrics.render(), 'istio_tcp_received_bytes_total')[0]!.value, 16)
})

t.test('L7 request metrics for waypoints', async (t) => {
  const metrics = createMetrics()
  recordRequest(metrics, {
    reporter: 'waypoint',
    src: sleep,
    dst: httpbin,
    securityPolicy: 'mutual_tls',
    requestProtocol: 'http',
    responseCode: 200,
    durationMs: 3,
    requestBytes: 0,
    responseBytes: 512,
  })
  recordRequest(metrics, {
    reporter: 'waypoint',
    src: sleep,
    dst: httpbin,
    securityPolicy: 'mutual_tls',
    requestProtocol: 'grpc',
    responseCode: 200,
    grpcResponseStatus: 14,
    durationMs: 700,
    requestBytes: 20,
    responseBytes: 0,
  })
  const text = await metrics.render()
  const requests = samples(text, 'istio_requests_total')
  t.equal(requests.length, 2)
  for (const s of requests) t.same(Object.keys(s.labels).sort(), [...HTTP_LABEL_NAMES].sort())
  const http = requests.find((s) => s.labels.request_protocol === 'http')!
  t.match(http.labels, { reporter: 'waypoint', response_code: '200', grpc_response_status: 'unknown', response_flags: '-' })
  const grpc = requests.find((s) => s.labels.request_protocol === 'grpc')!
  t.equal(grpc.labels.grpc_response_status, '14')

  // Istio's default duration buckets, in order, plus +Inf.
  const buckets = samples(text, 'istio_request_duration_milliseconds_bucket').filter((s) => s.labels.request_protocol === 'http')
  t.same(
    buckets.map((s) => s.labels.le),
    [...REQUEST_DURATION_BUCKETS_MS.map(String), '+Inf'],
  )
  t.same(
    REQUEST_DURATION_BUCKETS_MS,
    [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000],
  )
  t.equal(buckets.find((s) => s.labels.le === '1')!.value, 0)
  t.equal(buckets.find((s) => s.labels.le === '5')!.value, 1)
  for (const name of ['istio_request_bytes', 'istio_response_bytes', 'istio_request_duration_milliseconds']) {
    t.match(text, `# TYPE ${name} histogram`)
    t.equal(samples(text, `${name}_count`).length, 2, `${name}: one series per label set`)
  }
  t.equal(samples(text, 'istio_response_bytes_sum').find((s) => s.labels.request_protocol === 'http')!.value, 512)
})

t.test('process metrics only when asked, and default labels', async (t) => {
  const plain = createMetrics()
  t.notMatch(await plain.render(), /process_cpu_seconds_total/)
  const withProcess = createMetrics({ processMetrics: true, defaultLabels: { node: 'node-1' } })
  const text = await withProcess.render()
  t.match(text, /process_cpu_seconds_total/)
  t.ok(parseExposition(text).every((s) => s.labels.node === 'node-1'))
})

t.test('the event-loop delay gauges see a stall at the coarser sampling period', async (t) => {
  const m = createMetrics({ processMetrics: true })
  // Block the loop for 3.5 sampling periods, twice: the sample due during each runs late by most of
  // it (the sampler's first tick only sets its clock, so the first stall may not be recorded).
  for (let i = 0; i < 2; i++) {
    const start = performance.now()
    while (performance.now() - start < 3.5 * EVENT_LOOP_MONITORING_PRECISION_MS) Math.sqrt(start)
    // A zero timeout resolves in the next loop turn's timers phase, after the sampler's overdue tick.
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
  const text = await m.render()
  const max = samples(text, 'nodejs_eventloop_lag_max_seconds')[0]!.value
  t.ok(max >= (2 * EVENT_LOOP_MONITORING_PRECISION_MS) / 1000, `the stall shows in nodejs_eventloop_lag_max_seconds (${max} s)`)
  t.ok(samples(text, 'nodejs_eventloop_lag_p99_seconds').length === 1, 'and the percentiles are exported')
})

t.test('process CPU counters: user + system = total, and they only grow', async (t) => {
  const m = createMetrics({ processMetrics: true })
  const cpu = async (): Promise<{ user: number; system: number; total: number }> => {
    const text = await m.render()
    const one = (name: string): number => samples(text, name)[0]!.value
    return {
      user: one('process_cpu_user_seconds_total'),
      system: one('process_cpu_system_seconds_total'),
      total: one('process_cpu_seconds_total'),
    }
  }
  const first = await cpu()
  // Spend CPU until the process's own clock moved (bounded), so the second scrape has something to count.
  const before = process.cpuUsage()
  for (let n = 0; n < 1000 && process.cpuUsage(before).user < 5_000; n++) for (let i = 0; i < 1e5; i++) Math.sqrt(i)
  const second = await cpu()
  t.ok(second.total > first.total, 'the CPU spent between the scrapes is counted')
  for (const c of [first, second]) t.ok(Math.abs(c.user + c.system - c.total) < 1e-9, 'total is user + system')
  t.ok(second.total >= first.total && second.user >= first.user && second.system >= first.system, 'monotonic')
  t.ok(second.total > 0, 'some CPU was counted')
})
