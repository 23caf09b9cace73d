// Table tests for circuit breaking (src/l7/engines/circuit-breaker.ts), with the seed's
// reviews DestinationRule (§2.2: maxConnections 100, http1MaxPendingRequests 100,
// http2MaxRequests 1000, maxRequestsPerConnection 10) and Istio's circuit-breaking task
// (maxConnections 1, http1MaxPendingRequests 1).
import t from 'tap'
import { createCircuitBreaker, type ResourceKind } from '../../../src/l7/engines/circuit-breaker.js'
import { pool } from '../../helpers/waypoint-config.js'

const SEED = pool({ maxConnections: 100, http1MaxPendingRequests: 100, http2MaxRequests: 1000, maxRequestsPerConnection: 10 })

const acquireRows: { name: string; p: ReturnType<typeof pool>; kind: ResourceKind; n: number; okCount: number }[] = [
  { name: 'requests up to http2MaxRequests', p: pool({ http2MaxRequests: 3 }), kind: 'request', n: 5, okCount: 3 },
  { name: 'pending up to http1MaxPendingRequests', p: pool({ http1MaxPendingRequests: 2 }), kind: 'pending', n: 5, okCount: 2 },
  { name: 'connections up to maxConnections', p: pool({ maxConnections: 1 }), kind: 'connection', n: 3, okCount: 1 },
  { name: 'retries: min concurrency 3 when idle', p: pool(), kind: 'retry', n: 10, okCount: 3 },
  { name: 'retries: maxRetries below 3', p: pool({ maxRetries: 1 }), kind: 'retry', n: 10, okCount: 1 },
  { name: 'Istio defaults are effectively unlimited', p: pool(), kind: 'request', n: 10_000, okCount: 10_000 },
]

for (const r of acquireRows) {
  t.test(`tryAcquire: ${r.name}`, async (t) => {
    const cb = createCircuitBreaker(r.p)
    let ok = 0
    let last
    for (let i = 0; i < r.n; i++) {
      last = cb.tryAcquire(r.kind)
      if (last.kind === 'ok') ok++
    }
    t.equal(ok, r.okCount)
    if (ok < r.n && last?.kind === 'overflow') {
      t.equal(last.resource, r.kind)
      t.same(last.reply, {
        status: 503,
        body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
        responseFlag: 'UO',
      })
    }
  })
}

t.test('release frees a slot and never goes below zero', async (t) => {
  const cb = createCircuitBreaker(pool({ http2MaxRequests: 1 }))
  t.equal(cb.tryAcquire('request').kind, 'ok')
  t.equal(cb.tryAcquire('request').kind, 'overflow')
  cb.release('request')
  cb.release('request')
  t.equal(cb.counts().requests, 0)
  t.equal(cb.tryAcquire('request').kind, 'ok')
  t.equal(cb.tryAcquire('request').kind, 'overflow', 'the double release did not widen the limit')
})

t.test('retry budget grows with active requests (20 %)', async (t) => {
  const cb = createCircuitBreaker(pool())
  for (let i = 0; i < 50; i++) cb.tryAcquire('request')
  let ok = 0
  for (let i = 0; i < 20; i++) if (cb.tryAcquire('retry').kind === 'ok') ok++
  t.equal(ok, 10)
})

t.test('Istio circuit-breaking task: 1 connection, 1 pending → the third concurrent request overflows', async (t) => {
  const cb = createCircuitBreaker(pool({ maxConnections: 1, http1MaxPendingRequests: 1 }))
  // HTTP/1: a connection carries one request at a time.
  const first = cb.admit({ readyCapacity: false, endpointHasConnections: false })
  t.same(first, { kind: 'queue', connect: true }, 'first opens the connection')
  t.equal(cb.attachPending().kind, 'ok', 'connected: active')
  const second = cb.admit({ readyCapacity: false, endpointHasConnections: true })
  t.same(second, { kind: 'queue', connect: false }, 'second waits: no connection may be opened')
  const third = cb.admit({ readyCapacity: false, endpointHasConnections: true })
  t.equal(third.kind, 'overflow')
  if (third.kind === 'overflow') {
    t.equal(third.resource, 'pending')
    t.equal(third.reply.responseFlag, 'UO')
    t.equal(third.reply.status, 503)
  }
  t.same(cb.counts(), { connections: 1, pending: 1, requests: 1, retries: 0 })
  // The first finishes; the queued one takes the connection.
  cb.release('request')
  t.equal(cb.attachPending().kind, 'ok')
  t.same(cb.counts(), { connections: 1, pending: 0, requests: 1, retries: 0 })
})

t.test('an endpoint without connections may always open one (Envoy), even at maxConnections', async (t) => {
  const cb = createCircuitBreaker(pool({ maxConnections: 1 }))
  t.same(cb.admit({ readyCapacity: false, endpointHasConnections: false }), { kind: 'queue', connect: true })
  t.same(cb.admit({ readyCapacity: false, endpointHasConnections: false }), { kind: 'queue', connect: true })
  t.equal(cb.counts().connections, 2)
})

t.test('max_requests is checked when attaching (ready connection or from the queue)', async (t) => {
  const cb = createCircuitBreaker(pool({ http2MaxRequests: 1 }))
  t.same(cb.admit({ readyCapacity: true, endpointHasConnections: true }), { kind: 'attach' })
  const over = cb.admit({ readyCapacity: true, endpointHasConnections: true })
  t.equal(over.kind, 'overflow')
  if (over.kind === 'overflow') t.equal(over.resource, 'request')
  t.same(cb.admit({ readyCapacity: false, endpointHasConnections: true }), { kind: 'queue', connect: true })
  const attach = cb.attachPending()
  t.equal(attach.kind, 'overflow', 'connected, but max_requests is full')
  t.equal(cb.counts().pending, 0, 'the failed request left the queue')
})

t.test('seed: maxRequestsPerConnection 10 closes a connection after 10 requests; 0 = unlimited', async (t) => {
  const cb = createCircuitBreaker(SEED)
  t.equal(cb.connectionSpent(9), false)
  t.equal(cb.connectionSpent(10), true)
  t.equal(createCircuitBreaker(pool()).connectionSpent(1_000_000), false)
})

t.test('seed: 100 connections, then 100 pending, then UO', async (t) => {
  const cb = createCircuitBreaker(SEED)
  const kinds: string[] = []
  for (let i = 0; i < 201; i++) {
    const a = cb.admit({ readyCapacity: false, endpointHasConnections: true })
    kinds.push(a.kind === 'queue' ? (a.connect ? 'connect' : 'wait') : a.kind)
    if (a.kind === 'queue' && a.connect) cb.attachPending()
  }
  t.equal(kinds.filter((k) => k === 'connect').length, 100)
  t.equal(kinds.filter((k) => k === 'wait').length, 100)
  t.equal(kinds[200], 'overflow')
})
