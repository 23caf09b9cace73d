// The inbound sidecar bounds each exchange with its app (10 minutes by default; short here): an app
// that never answers gives the caller a 503 once the bound passed (never sooner), recorded in the
// metrics, while other requests on the same inbound keep being answered. The inbound runs in
// process on a plaintext (PERMISSIVE) port; the app is a node:http server on the pod-local address.
import t from 'tap'
import type { Test } from 'tap'
import http from 'node:http'
import { randomInt } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { createMetrics } from '../../../src/observability/metrics.js'
import { parseSidecarConfig } from '../../../src/sidecar/config.js'
import { createInbound } from '../../../src/sidecar/inbound.js'
import { sidecarConfigDoc } from '../../helpers/sidecar-config.js'
import { eventually } from '../../helpers/eventually.js'

t.setTimeout(60_000)
const BOUND_MS = 300

/** An inbound sidecar (plaintext port) in front of `app`; `get` a request through it. */
async function startInbound(t: Test, app: http.RequestListener, boundMs: number) {
  const x = randomInt(20, 120) * 2
  const podIp = `127.${x}.0.5`
  const podLocal = `127.${x + 1}.0.5`
  const server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, podLocal, resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const appPort = (server.address() as AddressInfo).port
  const config = parseSidecarConfig(
    JSON.stringify(
      sidecarConfigDoc({ name: 'reviews-v1-abc', pod: { podIp, podLocalAddress: podLocal }, ports: [{ port: appPort, protocol: 'HTTP' }] }),
    ),
  )
  const metrics = createMetrics()
  const inbound = createInbound({
    config: () => config,
    certificate: () => {
      throw new Error('plaintext only: no certificate needed')
    },
    metrics,
    logger: createCapturingLogger().logger,
    now: Date.now,
    listenPort: () => 0,
    appExchangeTimeoutMs: boundMs,
  })
  const bound = await inbound.start()
  t.teardown(() => inbound.close())
  const port = bound.get(appPort)!

  const get = (path: string): Promise<{ status: number; body: string; ms: number }> =>
    new Promise((resolve, reject) => {
      const started = performance.now()
      // A hang guard only: the bound, not this, must end the held request.
      const req = http.get({ host: podIp, port, path, agent: false, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }),
        )
      })
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s: the app exchange was not bounded')))
      req.on('error', reject)
    })
  /** A request whose client goes away (its connection destroyed) once `leave` resolves. */
  const abandon = (path: string, leave: Promise<void>): void => {
    const req = http.get({ host: podIp, port, path, agent: false })
    req.on('error', () => undefined)
    void leave.then(() => req.destroy())
  }
  return { metrics, get, abandon }
}

t.test('a held app exchange ends as a 503 after the bound; the inbound keeps serving', async (t) => {
  const held: http.ServerResponse[] = []
  const { metrics, get } = await startInbound(
    t,
    (req, res) => {
      req.resume()
      if (req.url === '/hold') held.push(res)
      else res.end('ok')
    },
    BOUND_MS,
  )

  t.match(await get('/ok'), { status: 200, body: 'ok' })
  const [hold, ok] = await Promise.all([get('/hold'), get('/ok')])
  t.match(ok, { status: 200, body: 'ok' }, 'answered while another exchange is held')
  t.equal(held.length, 1, 'the app got the held request')
  t.equal(hold.status, 503)
  t.equal(hold.body, 'upstream connect error or disconnect/reset before headers')
  t.ok(hold.ms >= BOUND_MS - 5, `not before the bound (${hold.ms.toFixed(0)} ms)`)
  const text = await metrics.registry.metrics()
  t.match(text, /istio_requests_total\{[^}]*reporter="destination"[^}]*response_code="503"[^}]*\} 1/, 'the 503 is in the metrics')
  t.match(await get('/ok'), { status: 200, body: 'ok' }, 'served after the bound fired')
})

t.test(
  'a caller gone while the app holds its request: the app connection is closed, counted once 0 DC (as Envoy: no response)',
  async (t) => {
    let held = 0
    let closed = 0
    let arrived: () => void = () => undefined
    const seen = new Promise<void>((resolve) => (arrived = resolve))
    const { metrics, get, abandon } = await startInbound(
      t,
      (req, res) => {
        req.resume()
        if (req.url !== '/hold') return void res.end('ok')
        held++
        res.on('close', () => closed++)
        arrived()
      },
      60_000,
    )
    abandon('/hold', seen)
    await eventually(() => held === 1 && closed === 1, { timeoutMs: 3_000 })
    t.pass('the app saw its connection closed, long before the bound')
    const lines = await eventually(async () => {
      const found = (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('istio_requests_total{'))
      return found.length > 0 ? found : null
    })
    t.equal(lines.length, 1)
    t.match(lines[0], /reporter="destination"/)
    t.match(lines[0], /response_code="0"/)
    t.match(lines[0], /response_flags="DC"/)
    t.match(lines[0], / 1$/, 'counted once')
    t.match(await get('/ok'), { status: 200, body: 'ok' }, 'the inbound serves on')
  },
)
