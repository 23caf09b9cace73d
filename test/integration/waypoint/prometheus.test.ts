// The seed's PromQL (section 4.1) against a real Prometheus scraping the waypoint's /metrics while
// traffic flows client → ztunnel → waypoint (from istiod) → ztunnel → reviews. Skipped without a
// `prometheus` binary (Debian's package; .ci/run installs it).
//
// What the queries return, honestly: the waypoint labels `destination_service` with the Service's
// FQDN (`reviews.default.svc.cluster.local`), as Istio does. So the seed's rate query (`=~"reviews.*"`)
// matches, but its p99 query (`destination_service="reviews"`, an exact match) returns an empty
// vector, on real Istio as here; the same query on the FQDN (or on destination_service_name="reviews")
// gives the p99.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually } from '../../helpers/eventually.js'
import { needs, onPath, requires } from '../../helpers/requires.js'
import { startWaypointIstiodMesh } from '../../helpers/waypoint-istiod-mesh.js'

const SEED_RATE = 'rate(istio_requests_total{destination_service=~"reviews.*", response_code="200"}[5m])'
const SEED_P99 =
  'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{destination_service="reviews"}[5m])) by (le))'
const FQDN_P99 =
  'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{destination_service="reviews.default.svc.cluster.local"}[5m])) by (le))'
const NAME_P99 =
  'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{destination_service_name="reviews"}[5m])) by (le))'

const binary = onPath('prometheus') ?? 'prometheus'

interface Sample {
  readonly metric: Record<string, string>
  readonly value: [number, string]
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

t.test(
  "the seed's PromQL against Prometheus scraping the waypoint",
  { skip: requires(t, needs.prometheus), timeout: 90_000 },
  async (t) => {
    const h = await startWaypointIstiodMesh(t)
    await h.mesh.converged()
    const wp = await h.startWaypoint()
    const target = `${wp.addresses.metrics.address}:${wp.addresses.metrics.port}`

    const dir = await mkdtemp(join(tmpdir(), 'ambient-prometheus-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: waypoint
    metrics_path: /metrics
    static_configs:
      - targets: ["${target}"]
`,
    )
    const port = await freePort()
    const api = `http://127.0.0.1:${port}`
    let logText = ''
    const prometheus = spawn(
      binary,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    prometheus.stdout.on('data', (d: Buffer) => {
      logText += d.toString()
    })
    prometheus.stderr.on('data', (d: Buffer) => {
      logText += d.toString()
    })
    // Registered after the directory's: teardowns run last-in first-out, so Prometheus stops first.
    t.teardown(() => stopProcess(prometheus))

    const query = async (q: string): Promise<Sample[]> => {
      const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(q)}`)
      const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } }
      if (body.status !== 'success') throw new Error(`${q}: ${body.error ?? res.status}`)
      return body.data!.result
    }

    await eventually(
      async () => {
        if (prometheus.exitCode !== null) throw new Error(`prometheus exited with ${prometheus.exitCode}:\n${logText}`)
        const res = await fetch(`${api}/-/ready`).catch(() => undefined)
        return res?.ok === true
      },
      { timeoutMs: 20_000 },
    )

    // Traffic keeps flowing while we poll: rate() needs two scrapes with requests between them.
    let driving = true
    let sent = 0
    const drive = (async () => {
      while (driving) {
        const r = await h.request()
        if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body}`)
        sent++
        if (sent % 20 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
    })()
    t.teardown(async () => {
      driving = false
      await drive.catch(() => undefined)
    })

    const scraped = await eventually(
      async () => {
        const up = await query('up{job="waypoint"}')
        if (up[0]?.value[1] !== '1') return false
        const rate = await query(SEED_RATE)
        const p99 = await query(FQDN_P99)
        return rate.length > 0 && p99.length > 0 && p99.some((s) => Number.isFinite(Number(s.value[1]))) ? { rate, p99 } : false
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    )
    driving = false
    await drive
    t.ok(sent > 0, `${sent} requests sent`)

    const rates = scraped.rate
    t.comment(
      `${SEED_RATE}\n  → ` +
        rates
          .map((s) => `${s.metric.destination_service} ${s.metric.destination_workload ?? ''} ${s.metric.reporter}: ${s.value[1]} req/s`)
          .join('\n  → '),
    )
    t.ok(
      rates.every((s) => Number(s.value[1]) > 0),
      "the seed's rate query: every series positive",
    )
    t.ok(
      rates.every((s) => s.metric.destination_service === 'reviews.default.svc.cluster.local' && s.metric.response_code === '200'),
      "series are for reviews' FQDN, 200",
    )
    t.ok(
      rates.some((s) => s.metric.reporter === 'waypoint'),
      'reported by the waypoint',
    )

    const seedP99 = await query(SEED_P99)
    t.comment(
      `${SEED_P99}\n  → ${seedP99.length === 0 ? 'empty vector (destination_service is the FQDN, as on Istio)' : JSON.stringify(seedP99)}`,
    )
    t.same(seedP99, [], "the seed's p99 query as written matches nothing: destination_service is never the short name")

    const fqdn = Number(scraped.p99[0]!.value[1])
    t.comment(`${FQDN_P99}\n  → ${fqdn} ms`)
    t.ok(Number.isFinite(fqdn) && fqdn > 0, `p99 on the FQDN is a finite positive number of ms (${fqdn})`)
    const byName = await query(NAME_P99)
    t.comment(`${NAME_P99}\n  → ${byName.map((s) => `${s.value[1]} ms`).join(', ') || 'empty'}`)
    t.ok(byName.length === 1 && Number(byName[0]!.value[1]) > 0, 'p99 on destination_service_name="reviews" too')
  },
)
