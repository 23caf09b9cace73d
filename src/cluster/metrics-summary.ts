// The demo's one-screen summary, from what the mesh itself reports: each ztunnel's
// `istio_tcp_connections_*` (reporter=destination: one row per source → destination workload, with
// the connection security policy and the DENY response flag) and the waypoints'
// `istio_requests_total` (L7: requests per destination version and response code).
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Prometheus text exposition → samples (comments and malformed lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1')
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

export interface EdgeRow {
  readonly edge: string
  readonly connections: number
  readonly denied: number
  readonly mtls: boolean
}

export function l4Edges(samples: readonly Sample[]): EdgeRow[] {
  const rows = new Map<string, { connections: number; denied: number; mtls: boolean }>()
  for (const s of samples) {
    if (s.labels.reporter !== 'destination') continue
    if (s.name !== 'istio_tcp_connections_opened_total' && s.name !== 'istio_tcp_connections_closed_total') continue
    const edge = `${s.labels.source_workload ?? '?'} → ${s.labels.destination_workload ?? '?'}`
    const row = rows.get(edge) ?? { connections: 0, denied: 0, mtls: true }
    if (s.name === 'istio_tcp_connections_opened_total') row.connections += s.value
    if (s.name === 'istio_tcp_connections_closed_total' && s.labels.response_flags === 'DENY') row.denied += s.value
    if (s.labels.connection_security_policy !== 'mutual_tls') row.mtls = false
    rows.set(edge, row)
  }
  return [...rows].map(([edge, r]) => ({ edge, ...r })).sort((a, b) => a.edge.localeCompare(b.edge))
}

export function l7Rows(samples: readonly Sample[]): { readonly row: string; readonly requests: number }[] {
  const rows = new Map<string, number>()
  for (const s of samples) {
    if (s.name !== 'istio_requests_total' || s.labels.reporter !== 'waypoint') continue
    const row =
      `${s.labels.source_workload ?? '?'} → ${s.labels.destination_service_name ?? '?'} → ` +
      `${s.labels.destination_workload ?? '?'} ${s.labels.response_code ?? '?'}`
    rows.set(row, (rows.get(row) ?? 0) + s.value)
  }
  return [...rows].map(([row, requests]) => ({ row, requests })).sort((a, b) => a.row.localeCompare(b.row))
}

export async function scrape(urls: readonly string[]): Promise<Sample[]> {
  const texts = await Promise.all(
    urls.map(async (u) => {
      try {
        const res = await fetch(u, { signal: AbortSignal.timeout(1_000) })
        return res.status === 200 ? await res.text() : ''
      } catch {
        return ''
      }
    }),
  )
  return texts.flatMap(parsePrometheus)
}
