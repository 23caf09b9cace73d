// Recent flows for the dashboard's table, with a verdict and a reason each:
//
// - the ztunnels' access log (`connection complete` lines in their log files, which the cluster
//   runner names in the run state): allowed, denied (DENY, with the policy's reason) or failed.
//   At log level warn and above only the failures are written, so allowed flows may be missing;
// - when no access log is readable, the ring is fed from metric deltas instead (one row per edge
//   and poll: "N connections allowed / denied"), and the API says so;
// - the waypoints write no per-request log: their refusals (403 RBAC) and errors always come from
//   metric deltas;
// - sidecar mode (no ztunnel): every row comes from the sidecars' metric deltas: the caller's
//   requests (reporter="source") and, from the callee's sidecar (reporter="destination"), its 403
//   RBAC denials and requests from callers without a sidecar; TCP closes as the destination saw them.
import { open, stat } from 'node:fs/promises'
import type { Sample } from '../cluster/metrics-summary.js'

export type Verdict = 'allowed' | 'denied' | 'failed'

export interface FlowRow {
  readonly time: string
  /** Who reported it: `ztunnel node-1 (inbound)`, `waypoint default/reviews-waypoint`, … */
  readonly reporter: string
  readonly source: string
  readonly destination: string
  readonly service?: string
  readonly verdict: Verdict
  readonly reason: string
  readonly origin: 'access-log' | 'metrics'
  readonly count?: number
  readonly bytes?: { readonly sent: number; readonly received: number }
  readonly durationMs?: number
}

/** The most recent rows, newest last. */
export class FlowRing {
  private readonly rows: FlowRow[] = []
  constructor(private readonly capacity = 300) {}
  push(row: FlowRow): void {
    this.rows.push(row)
    if (this.rows.length > this.capacity) this.rows.splice(0, this.rows.length - this.capacity)
  }
  list(): readonly FlowRow[] {
    return this.rows
  }
}

/** One access-log line → a row (undefined for any other line). */
export function accessLogRow(line: string, reporter: string): FlowRow | undefined {
  let v: Record<string, unknown>
  try {
    v = JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (v.msg !== 'connection complete') return undefined
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined)
  const num = (k: string): number => (typeof v[k] === 'number' ? v[k] : 0)
  const flags = str('response_flags')
  const error = str('error')
  // The source side of a denial: the destination's ztunnel answered the HBONE CONNECT 401/403.
  const refused = str('error_code') === 'HBONE_CONNECT_REJECTED' && / 40[13]\b/.test(error ?? '')
  const verdict: Verdict = error === undefined ? 'allowed' : flags === 'DENY' || refused ? 'denied' : 'failed'
  const peer = (p: 'src' | 'dst'): string => {
    const w = str(`${p}.workload`)
    return w === undefined
      ? (str(`${p}.identity`)?.replace(/^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/(.*)$/, 'sa $2 ($1)') ?? str(`${p}.addr`) ?? '?')
      : `${w}${str(`${p}.namespace`) === undefined ? '' : ` (${str(`${p}.namespace`)})`}`
  }
  const service = str('dst.service')
  return {
    time: str('time') ?? new Date().toISOString(),
    reporter: `${reporter} (${str('direction') ?? '?'})`,
    source: peer('src'),
    // Via a waypoint the source ztunnel only knows the Service it sent to.
    destination: str('dst.workload') === undefined && service !== undefined ? service : peer('dst'),
    ...(service === undefined ? {} : { service }),
    verdict,
    reason:
      error === undefined
        ? 'connection complete'
        : `${error}` +
          (flags === undefined && str('error_code') === undefined
            ? ''
            : ` (${[flags, str('error_code')].filter((x) => x !== undefined).join(', ')})`),
    origin: 'access-log',
    bytes: { sent: num('bytes_sent'), received: num('bytes_recv') },
    durationMs: num('duration'),
  }
}

/** Follows log files from where it last stopped (the first read starts near the end). */
export class LogTail {
  private readonly offsets = new Map<string, number>()
  private readonly partial = new Map<string, string>()
  private readonly started = new Set<string>()
  constructor(private readonly backlogBytes = 64 * 1024) {}

  /** New complete lines of `file`; throws when it cannot be read. */
  async read(file: string): Promise<string[]> {
    const size = (await stat(file)).size
    let from = this.offsets.get(file) ?? Math.max(0, size - this.backlogBytes)
    if (size < from) from = 0 // truncated or replaced
    if (size === from) return []
    const fh = await open(file, 'r')
    try {
      const buf = Buffer.alloc(Math.min(size - from, 4 * 1024 * 1024))
      const { bytesRead } = await fh.read(buf, 0, buf.length, from)
      this.offsets.set(file, from + bytesRead)
      const text = (this.partial.get(file) ?? '') + buf.subarray(0, bytesRead).toString('utf8')
      const lines = text.split('\n')
      this.partial.set(file, lines.pop() ?? '')
      // A first read that started mid-file drops its first, partial, line.
      if (!this.started.has(file) && from > 0) lines.shift()
      this.started.add(file)
      return lines.filter((l) => l !== '')
    } finally {
      await fh.close()
    }
  }
}

/** Per-poll metric deltas → rows (the fallback for L4, always for the waypoints' L7). */
export interface MetricRowOptions {
  /** Rows for L4 closes (reporter="destination") too. */
  readonly l4: boolean
  readonly at: string
  readonly workloadOfPod?: (pod: string) => string | undefined
  /** Who reports L4 closes; default ztunnel. */
  readonly proxy?: 'ztunnel' | 'sidecar'
  /** Sidecar mode: the workload running as a principal, when it is one (destinations know callers by certificate). */
  readonly workloadOfPrincipal?: (principal: string) => string | undefined
}

export function metricRows(before: readonly Sample[] | undefined, now: readonly Sample[], options: MetricRowOptions): FlowRow[] {
  if (before === undefined) return []
  const key = (s: Sample): string => `${s.name}${JSON.stringify(s.labels)}`
  const old = new Map(before.map((s) => [key(s), s.value]))
  const rows: FlowRow[] = []
  const workload = (name: string | undefined): string => (name === undefined ? '?' : (options.workloadOfPod?.(name) ?? name))
  const caller = (l: Sample['labels']): string => {
    if (l.source_workload !== undefined && l.source_workload !== 'unknown')
      return `${workload(l.source_workload)} (${l.source_workload_namespace ?? '?'})`
    const principal = l.source_principal
    if (principal === undefined || principal === 'unknown') return 'unknown (no peer identity)'
    const w = options.workloadOfPrincipal?.(principal)
    return w === undefined ? principal.replace(/^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/(.*)$/, 'sa $2 ($1)') : w
  }
  for (const s of now) {
    const l = s.labels
    const delta = s.value - (old.get(key(s)) ?? 0)
    if (delta <= 0) continue
    if (s.name === 'istio_requests_total' && l.reporter === 'waypoint') {
      const code = Number(l.response_code ?? 0)
      const flags = l.response_flags ?? '-'
      const verdict: Verdict =
        code === 403 && flags.includes('RBAC') ? 'denied' : code >= 400 || code === 0 || flags !== '-' ? 'failed' : 'allowed'
      rows.push({
        time: options.at,
        reporter: 'waypoint',
        source: `${l.source_workload ?? '?'} (${l.source_workload_namespace ?? '?'})`,
        destination:
          l.destination_workload === undefined || l.destination_workload === 'unknown'
            ? `${l.destination_service_name ?? '?'} (${l.destination_service_namespace ?? '?'})`
            : `${options.workloadOfPod?.(l.destination_workload) ?? l.destination_workload} (${l.destination_workload_namespace ?? '?'})`,
        ...(l.destination_service === undefined ? {} : { service: l.destination_service }),
        verdict,
        reason: `HTTP ${code}${flags === '-' ? '' : ` ${flags}`}${verdict === 'denied' ? ': RBAC: access denied by the waypoint' : ''}`,
        origin: 'metrics',
        count: delta,
      })
    } else if (s.name === 'istio_requests_total' && (l.reporter === 'source' || l.reporter === 'destination')) {
      // Sidecars. The destination's rows only add what the source's do not say: its denials, and
      // callers without a sidecar (no peer identity).
      const code = Number(l.response_code ?? 0)
      const flags = l.response_flags ?? '-'
      const denied = code === 403 && flags.split(',').includes('RBAC')
      if (l.reporter === 'destination' && !denied && l.connection_security_policy === 'mutual_tls') continue
      const verdict: Verdict = denied ? 'denied' : code >= 400 || code === 0 || flags !== '-' ? 'failed' : 'allowed'
      const dst =
        l.destination_workload === undefined || l.destination_workload === 'unknown'
          ? `${l.destination_service_name ?? '?'} (${l.destination_service_namespace ?? '?'})`
          : `${workload(l.destination_workload)} (${l.destination_workload_namespace ?? '?'})`
      rows.push({
        time: options.at,
        reporter: `sidecar (${l.reporter})`,
        source: caller(l),
        destination: dst,
        ...(l.destination_service === undefined || l.destination_service === 'unknown' ? {} : { service: l.destination_service }),
        verdict,
        reason: `HTTP ${code}${flags === '-' ? '' : ` ${flags}`}${denied ? ": RBAC: access denied by the destination's sidecar" : ''}`,
        origin: 'metrics',
        count: delta,
      })
    } else if (options.l4 && s.name === 'istio_tcp_connections_closed_total' && l.reporter === 'destination') {
      const flags = l.response_flags ?? '-'
      const verdict: Verdict = flags === 'DENY' ? 'denied' : flags === '-' ? 'allowed' : 'failed'
      rows.push({
        time: options.at,
        reporter: `${options.proxy ?? 'ztunnel'} (destination)`,
        source:
          options.proxy === 'sidecar'
            ? caller(l)
            : l.source_workload === 'unknown'
              ? (l.source_principal ?? '?')
              : `${l.source_workload ?? '?'} (${l.source_workload_namespace ?? '?'})`,
        destination:
          `${options.proxy === 'sidecar' ? workload(l.destination_workload) : (l.destination_workload ?? '?')} ` +
          `(${l.destination_workload_namespace ?? '?'})`,
        verdict,
        reason:
          verdict === 'allowed'
            ? `${delta} connection${delta === 1 ? '' : 's'} completed`
            : `${flags}: ${delta} connection${delta === 1 ? '' : 's'} refused`,
        origin: 'metrics',
        count: delta,
      })
    }
  }
  return rows
}
