// `ambient zc …`: istioctl ztunnel-config's views over our ztunnels' /config_dump. Tables in
// istioctl's style (upper-case headers, columns padded to the widest cell, two spaces apart), or the
// rows as JSON/YAML. `--pod` narrows each view to one pod; `zc pod` (all views at once) is
// "everything about this pod": its node and ztunnel, its workload entry, waypoint, the policies
// that apply to it, its certificate and its live connections.
import { stringify as toYaml } from 'yaml'
import type { RunStatePod } from '../cluster/run-state.js'
import type { ConfigDump } from './cluster-client.js'

export const ZC_VIEWS = ['workloads', 'services', 'policies', 'certificates', 'connections'] as const
export type ZcView = (typeof ZC_VIEWS)[number]
export type OutputFormat = 'table' | 'json' | 'yaml'

type J = Record<string, unknown>

/** Columns padded to the widest cell, two spaces apart, like istioctl's tabwriter output. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return (
    cells
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  )
}

export interface PodFilter {
  readonly namespace: string
  readonly name: string
  readonly ip: string
  readonly identity: string
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v))

function waypointText(w: unknown): string {
  if (w === undefined || w === null) return 'None'
  const g = w as J
  if (g.kind === 'hostname') return str(g.hostname).split('.')[0] ?? str(g.hostname)
  return str(g.address)
}

/** A config object's table: its NAMESPACE and `<what> NAME` columns first, then `headers` (cells from `cells`). */
function namedTable(what: string, headers: readonly string[], rows: readonly J[], cells: (r: J) => (string | number)[]): string {
  return table(
    ['NAMESPACE', `${what} NAME`, ...headers],
    rows.map((r) => [str(r.namespace), str(r.name), ...cells(r)]),
  )
}

const addressList = (r: J): string => ((r.addresses as string[] | undefined) ?? []).join(',')

export function workloadRows(dump: ConfigDump, pod?: PodFilter): J[] {
  return dump.workloads.filter((w) => pod === undefined || (w.namespace === pod.namespace && w.name === pod.name)).map((w) => w as J)
}

export function workloadTable(rows: readonly J[]): string {
  return namedTable('POD', ['ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL'], rows, (w) => [
    addressList(w),
    str(w.node),
    waypointText(w.waypoint),
    str(w.tunnelProtocol),
  ])
}

export function serviceRows(dump: ConfigDump, pod?: PodFilter): J[] {
  const mine =
    pod === undefined
      ? undefined
      : new Set(Object.keys((dump.workloads.find((w) => w.namespace === pod.namespace && w.name === pod.name)?.services ?? {}) as J))
  return dump.services
    .filter((s) => mine === undefined || mine.has(`${str(s.namespace)}/${str(s.hostname)}`))
    .map((s) => {
      const key = `${str(s.namespace)}/${str(s.hostname)}`
      const endpoints = dump.workloads.filter((w) => Object.hasOwn((w.services ?? {}) as J, key))
      const healthy = endpoints.filter((w) => w.status === 'HEALTHY').length
      return { ...s, endpoints: `${healthy}/${endpoints.length}` }
    })
}

export function serviceTable(rows: readonly J[]): string {
  return namedTable('SERVICE', ['SERVICE VIP', 'WAYPOINT', 'ENDPOINTS'], rows, (s) => [
    addressList(s),
    waypointText(s.waypoint),
    str(s.endpoints),
  ])
}

/** Policies that apply to the pod: GLOBAL, its namespace's, and the selector policies its workload lists. */
export function policyRows(dump: ConfigDump, pod?: PodFilter): J[] {
  const w = pod === undefined ? undefined : dump.workloads.find((x) => x.namespace === pod.namespace && x.name === pod.name)
  const selected = new Set((w?.authorizationPolicies as string[] | undefined) ?? [])
  return dump.policies.filter((p) => {
    if (pod === undefined) return true
    if (p.scope === 'GLOBAL') return true
    if (p.scope === 'NAMESPACE') return p.namespace === pod.namespace
    return selected.has(`${str(p.namespace)}/${str(p.name)}`)
  })
}

export function policyTable(rows: readonly J[]): string {
  return namedTable('POLICY', ['ACTION', 'SCOPE', 'RULES', 'DRY-RUN'], rows, (p) => [
    str(p.action),
    str(p.scope),
    ((p.rules as unknown[] | undefined) ?? []).length,
    p.dryRun === true ? 'yes' : 'no',
  ])
}

export function certificateRows(dump: ConfigDump, pod?: PodFilter): J[] {
  return dump.certificates.filter((c) => pod === undefined || c.identity === pod.identity)
}

export function certificateTable(rows: readonly J[]): string {
  return table(
    ['CERTIFICATE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'],
    rows.map((c) => {
      const valid = c.expirationTime !== undefined && Date.parse(str(c.expirationTime)) > Date.now()
      return [str(c.identity), 'Leaf', str(c.state), valid ? 'true' : 'false', str(c.serialNumber), str(c.expirationTime), str(c.validFrom)]
    }),
  )
}

/** Live flows on this ztunnel; with a pod, those it is an end of (by address or identity). */
export function connectionRows(dump: ConfigDump, pod?: PodFilter): J[] {
  return dump.connections.filter((f) => {
    if (pod === undefined) return true
    const ends = [f.src, f.dst].map((e) => (e ?? {}) as J)
    return ends.some(
      (e) =>
        str(e.addr).startsWith(`${pod.ip}:`) ||
        (e.workload !== undefined && e.namespace === pod.namespace && str(pod.name).startsWith(str(e.workload))) ||
        e.identity === pod.identity,
    )
  })
}

export function connectionTable(rows: readonly J[]): string {
  return table(
    ['DIRECTION', 'SOURCE', 'SOURCE IDENTITY', 'DESTINATION', 'DESTINATION IDENTITY', 'SECURITY', 'BYTES SENT', 'BYTES RECV', 'DURATION'],
    rows.map((f) => {
      const s = (f.src ?? {}) as J
      const d = (f.dst ?? {}) as J
      return [
        str(f.direction),
        peer(s),
        str(s.identity) || '-',
        peer(d) + (d.service ? ` (${str(d.service)})` : ''),
        str(d.identity) || '-',
        str(f.securityPolicy),
        str(f.bytesSent),
        str(f.bytesReceived),
        `${Math.round(Number(f.durationMs ?? 0))}ms`,
      ]
    }),
  )
}

function peer(e: J): string {
  return e.workload === undefined ? str(e.addr) : `${str(e.namespace)}/${str(e.workload)} ${str(e.addr)}`
}

const VIEWS: Record<ZcView, { rows: (d: ConfigDump, p?: PodFilter) => J[]; table: (rows: readonly J[]) => string }> = {
  workloads: { rows: workloadRows, table: workloadTable },
  services: { rows: serviceRows, table: serviceTable },
  policies: { rows: policyRows, table: policyTable },
  certificates: { rows: certificateRows, table: certificateTable },
  connections: { rows: connectionRows, table: connectionTable },
}

export function viewRows(view: ZcView, dump: ConfigDump, pod?: PodFilter): J[] {
  return VIEWS[view].rows(dump, pod)
}

export function render(view: ZcView, rows: readonly J[], format: OutputFormat): string {
  switch (format) {
    case 'table':
      return rows.length === 0 ? `no ${view}\n` : VIEWS[view].table(rows)
    case 'json':
      return `${JSON.stringify(rows, null, 2)}\n`
    case 'yaml':
      return toYaml(rows)
  }
}

/** Everything about one pod, from its own node's ztunnel. */
export interface PodReport {
  readonly pod: {
    readonly namespace: string
    readonly name: string
    readonly node: string
    readonly podIP: string
    readonly serviceAccount: string
    readonly identity: string
    readonly captured: boolean
  }
  readonly ztunnel: { readonly node: string; readonly admin: string; readonly podState: J | null }
  readonly workload: J | null
  readonly waypoint: string
  readonly services: readonly J[]
  readonly policies: readonly J[]
  readonly certificate: J | null
  readonly connections: readonly J[]
}

export function podReport(pod: RunStatePod, identity: string, admin: string, dump: ConfigDump): PodReport {
  const filter: PodFilter = { namespace: pod.namespace, name: pod.name, ip: pod.podIP, identity }
  const workload = workloadRows(dump, filter)[0] ?? null
  return {
    pod: {
      namespace: pod.namespace,
      name: pod.name,
      node: pod.node,
      podIP: pod.podIP,
      serviceAccount: pod.serviceAccount,
      identity,
      captured: pod.captured,
    },
    ztunnel: {
      node: pod.node,
      admin,
      podState: (dump.pods.find((p) => p.namespace === pod.namespace && p.name === pod.name) as J | undefined) ?? null,
    },
    workload,
    waypoint: waypointText(workload?.waypoint),
    services: serviceRows(dump, filter),
    policies: policyRows(dump, filter),
    certificate: certificateRows(dump, filter)[0] ?? null,
    connections: connectionRows(dump, filter),
  }
}

export function renderPodReport(r: PodReport, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`
  if (format === 'yaml') return toYaml(r)
  const p = r.pod
  const listeners = (r.ztunnel.podState?.listeners ?? {}) as J
  const lines = [
    `POD          ${p.namespace}/${p.name}`,
    `NODE         ${p.node}`,
    `ZTUNNEL      ztunnel/${r.ztunnel.node} (admin ` +
      `${r.ztunnel.admin})${r.ztunnel.podState ? `, pod state ${str(r.ztunnel.podState.state)}` : ', pod unknown to this ztunnel'}`,
    `ADDRESS      ${p.podIP}${p.captured ? ' (captured)' : ' (not captured)'}`,
    `IDENTITY     ${p.identity}`,
    `WAYPOINT     ${r.waypoint}`,
    ...(Object.keys(listeners).length > 0
      ? [
          `LISTENERS    ${Object.entries(listeners)
            .map(([k, v]) => `${k}=${str(v)}`)
            .join('  ')}`,
        ]
      : []),
    '',
    'WORKLOAD',
    r.workload === null ? "not in this ztunnel's state\n" : workloadTable([r.workload]),
    'SERVICES',
    r.services.length === 0 ? 'none\n' : serviceTable(r.services),
    'POLICIES (applied by ztunnel)',
    r.policies.length === 0 ? 'none\n' : policyTable(r.policies),
    'CERTIFICATE',
    r.certificate === null ? 'none yet (issued on first use)\n' : certificateTable([r.certificate]),
    'CONNECTIONS',
    r.connections.length === 0 ? 'none open\n' : connectionTable(r.connections),
  ]
  return lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join('')
}
