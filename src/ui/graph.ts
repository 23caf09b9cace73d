// The dashboard's service graph, from what the mesh itself reports (the same Prometheus samples the
// demo's summary reads, src/cluster/metrics-summary.ts):
//
//   ztunnel, reporter="source"       client workload → Service (→ workload when no waypoint): L4
//                                    connections, failures, mTLS
//   ztunnel, reporter="destination"  DENY closes (the destination's verdict), mTLS, and traffic from
//                                    clients no source ztunnel saw
//   waypoint, reporter="waypoint"    client → waypoint → Service → workload as HTTP requests: rate,
//                                    error rate (4xx/5xx), 403 RBAC as denied (on client → waypoint);
//                                    every such edge is via-waypoint
//   sidecar, reporter="source"       (sidecar mode) client → Service → workload as HTTP requests, each
//                                    counted once, here; never via a waypoint
//   sidecar, reporter="destination"  (sidecar mode) 403 RBAC as denied on the edges the source drew
//                                    for that pair, and requests no source sidecar reported. The
//                                    destination knows its caller by certificate only, so the caller
//                                    is the workload(s) running as that principal (context
//                                    `principals`); several share it → the denials are split by the
//                                    403s each one's sidecar saw from that destination
//
// Sidecars label workloads with pod names; `podWorkloads` maps them to their workloads.
//
// Traffic to a Service with a waypoint is drawn through the waypoint node, as Kiali draws ambient
// waypoints: client → waypoint (the source ztunnel's connections, the waypoint's requests) →
// Service → workload (the waypoint's requests, the destination ztunnel's verdict on its last hop).
//
// The samples are cumulative counters; `edgeCounters` turns one scrape into per-edge totals and
// `GraphHistory` keeps a few seconds of them so rates and "denied recently" are deltas over a
// window (a counter that went down, a restarted proxy, counts from zero again); edges idle for a
// while are dropped.
import type { Sample } from '../cluster/metrics-summary.js'

export type NodeKind = 'workload' | 'service' | 'waypoint'

export interface GraphNode {
  readonly id: string
  readonly kind: NodeKind
  readonly namespace: string
  readonly name: string
  /** For a service with a waypoint: the waypoint's name. */
  readonly waypoint?: string
}

export interface EdgeCounters {
  /** L4 connections opened. */
  connections: number
  /** L4 connections closed with a response flag other than `-`. */
  connectionErrors: number
  /** HTTP requests (waypoint). */
  requests: number
  /** HTTP requests answered 4xx/5xx (or with a response flag). */
  requestErrors: number
  /** Connections closed DENY plus requests refused 403 RBAC. */
  denied: number
  /** Every series seen for the edge was mutual_tls. */
  mtls: boolean
  viaWaypoint: boolean
}

export type EdgeHealth = 'ok' | 'errors' | 'denied' | 'idle'

export interface GraphEdge {
  readonly id: string
  readonly source: string
  readonly target: string
  readonly protocol: 'tcp' | 'http'
  /** Requests per second (http) or connections per second (tcp) over the window. */
  readonly rate: number
  /** Failed share of the window's requests or connections, 0..1. */
  readonly errorRate: number
  /**
   * What colour to draw: `denied` (denials in the window), `errors` (failures over a whole window of
   * at least MIN_REQUESTS_FOR_ERRORS), `ok` (traffic), `idle` (none in the window).
   */
  readonly health: EdgeHealth
  readonly mtls: boolean
  readonly viaWaypoint: boolean
  /** Denials within the window. */
  readonly denied: boolean
  readonly deniedRecent: number
  /** Totals as the proxies report them (since they started). */
  readonly totals: { readonly connections: number; readonly requests: number; readonly denied: number }
}

export interface Graph {
  readonly nodes: readonly GraphNode[]
  readonly edges: readonly GraphEdge[]
  readonly windowSeconds: number
}

/** What the metrics alone do not say: who the waypoints are, which pods make which workloads. */
export interface GraphContext {
  /** Workloads that run (deployments), so idle ones still appear. */
  readonly workloads: readonly { readonly namespace: string; readonly name: string }[]
  /** Pod name → workload name (for proxies that label a workload with its pod; ours now report workloads, this stays for older metrics). */
  readonly podWorkloads: ReadonlyMap<string, string>
  readonly waypoints: readonly {
    readonly namespace: string
    readonly name: string
    readonly identity: string
    readonly services: readonly { readonly namespace: string; readonly name: string }[]
  }[]
  /**
   * Sidecar mode: `namespace/serviceAccount` → the workloads running as it, for callers a
   * destination reports by principal only (source_workload "unknown": TCP flows, which carry no
   * metadata exchange, and plaintext callers). Absent: no such lookup.
   */
  readonly principals?: ReadonlyMap<string, readonly { readonly namespace: string; readonly name: string }[]>
}

/** `spiffe://td/ns/N/sa/S` (or without the scheme) → `N/S`, the key of `GraphContext.principals`. */
export function principalKey(principal: string | undefined): string | undefined {
  const m = /(?:^|\/)ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal ?? '')
  return m === null ? undefined : `${m[1]}/${m[2]}`
}

const UNKNOWN = 'unknown'

export const workloadId = (ns: string, name: string): string => `wl:${ns}/${name}`
export const serviceId = (ns: string, name: string): string => `svc:${ns}/${name}`
export const edgeId = (source: string, target: string): string => `${source}->${target}`

interface Totals {
  readonly edges: Map<string, EdgeCounters>
  readonly nodes: Map<string, GraphNode>
}

type Hop = [string, string]

/**
 * The nodes and per-edge counters of one scrape as they are being counted, and the lookups every
 * reporter needs: who the waypoints are, a label pair → a node (created on first sight).
 */
interface Tally extends Totals {
  readonly ctx: GraphContext
  /** Service node id → the waypoint serving it. */
  readonly waypointOfService: ReadonlyMap<string, GraphContext['waypoints'][number]>
  /** Waypoint identity (without `spiffe://`) → the waypoint. */
  readonly waypointByIdentity: ReadonlyMap<string, GraphContext['waypoints'][number]>
  workload(ns: string | undefined, name: string | undefined): string | undefined
  /** A workload label that may be a pod's name (older reports named pods). */
  podWorkload(ns: string | undefined, name: string | undefined): string | undefined
  service(ns: string | undefined, name: string | undefined): string | undefined
  edge(source: string, target: string): EdgeCounters
}

function newTally(ctx: GraphContext): Tally {
  const edges = new Map<string, EdgeCounters>()
  const nodes = new Map<string, GraphNode>()
  const waypointOfService = new Map<string, GraphContext['waypoints'][number]>()
  const waypointByIdentity = new Map<string, GraphContext['waypoints'][number]>()
  for (const w of ctx.waypoints) {
    waypointByIdentity.set(w.identity.replace(/^spiffe:\/\//, ''), w)
    nodes.set(workloadId(w.namespace, w.name), {
      id: workloadId(w.namespace, w.name),
      kind: 'waypoint',
      namespace: w.namespace,
      name: w.name,
    })
    for (const s of w.services) waypointOfService.set(serviceId(s.namespace, s.name), w)
  }
  for (const w of ctx.workloads) {
    const id = workloadId(w.namespace, w.name)
    if (!nodes.has(id)) nodes.set(id, { id, kind: 'workload', namespace: w.namespace, name: w.name })
  }
  const named = (ns: string | undefined, name: string | undefined): { ns: string; name: string } | undefined =>
    name === undefined || name === UNKNOWN || name === '' ? undefined : { ns: ns === undefined || ns === UNKNOWN ? 'default' : ns, name }
  const workload = (ns: string | undefined, name: string | undefined): string | undefined => {
    const n = named(ns, name)
    if (n === undefined) return undefined
    const id = workloadId(n.ns, n.name)
    if (!nodes.has(id)) nodes.set(id, { id, kind: 'workload', namespace: n.ns, name: n.name })
    return id
  }
  return {
    ctx,
    edges,
    nodes,
    waypointOfService,
    waypointByIdentity,
    workload,
    podWorkload: (ns, name) => workload(ns, name === undefined ? undefined : (ctx.podWorkloads.get(name) ?? name)),
    service(ns, name) {
      const n = named(ns, name)
      if (n === undefined) return undefined
      const id = serviceId(n.ns, n.name)
      const waypoint = waypointOfService.get(id)?.name
      if (!nodes.has(id))
        nodes.set(id, { id, kind: 'service', namespace: n.ns, name: n.name, ...(waypoint === undefined ? {} : { waypoint }) })
      return id
    },
    edge(source, target) {
      const id = edgeId(source, target)
      let e = edges.get(id)
      if (e === undefined) {
        e = { connections: 0, connectionErrors: 0, requests: 0, requestErrors: 0, denied: 0, mtls: true, viaWaypoint: false }
        edges.set(id, e)
      }
      return e
    },
  }
}

const secure = (s: Sample): boolean => s.labels.connection_security_policy === 'mutual_tls'
const TCP_COUNTERS = new Set(['istio_tcp_connections_opened_total', 'istio_tcp_connections_closed_total'])
const isTcp = (s: Sample): boolean => TCP_COUNTERS.has(s.name)
const isRequests =
  (reporter: string) =>
  (s: Sample): boolean =>
    s.name === 'istio_requests_total' && s.labels.reporter === reporter

/** An HTTP sample's outcome: failed (4xx/5xx, no response, or a response flag), denied (403 RBAC). */
function outcome(l: Sample['labels']): { code: number; failed: boolean; denied: boolean } {
  const code = Number(l.response_code ?? 0)
  const flags = l.response_flags ?? '-'
  return { code, failed: code >= 400 || code === 0 || flags !== '-', denied: code === 403 && flags.split(',').includes('RBAC') }
}

/** client → Service → workload, or client → workload when the Service is not known. */
function serviceHops(src: string, svc: string | undefined, dst: string | undefined): Hop[] {
  if (svc === undefined) return dst === undefined ? [] : [[src, dst]]
  return dst === undefined
    ? [[src, svc]]
    : [
        [src, svc],
        [svc, dst],
      ]
}

/**
 * Who called `dst`, as a destination reports it: the named source workload, else the workloads
 * running as the source principal. Each with its share of the sample and whether a source proxy
 * reported that pair (then the source side counted its traffic). Among several callers the share
 * follows `weight` (e.g. the 403s each caller saw), evenly when that says nothing.
 */
function callers(
  t: Tally,
  l: Sample['labels'],
  dst: string,
  seen: ReadonlySet<string>,
  weight: (pair: string) => number,
): { src: string; share: number; seen: boolean }[] {
  const named = t.podWorkload(l.source_workload_namespace, l.source_workload)
  const key = named === undefined ? principalKey(l.source_principal) : undefined
  const candidates =
    named !== undefined ? [named] : key === undefined ? [] : (t.ctx.principals?.get(key) ?? []).map((w) => t.workload(w.namespace, w.name)!)
  if (candidates.length === 0) return []
  const seenOnes = candidates.filter((c) => seen.has(`${c} ${dst}`))
  const chosen = seenOnes.length > 0 ? seenOnes : candidates
  const weights = chosen.map((c) => Math.max(0, weight(`${c} ${dst}`)))
  const total = weights.reduce((a, b) => a + b, 0)
  return chosen.map((src, i) => ({ src, share: total > 0 ? weights[i]! / total : 1 / chosen.length, seen: seenOnes.length > 0 }))
}

/** What a source proxy saw, for the destination side to put its verdicts on the same edges. */
interface SourceView {
  /** `src dst` → the Service the client reached that workload through. */
  readonly serviceOfPair: Map<string, string>
  /** `src dst` pairs some source proxy reported. */
  readonly seen: Set<string>
}

/** ztunnel, reporter="source": L4 connections, failures and mTLS on client → Service → workload. */
function countZtunnelSource(t: Tally, samples: readonly Sample[]): SourceView {
  const view: SourceView = { serviceOfPair: new Map(), seen: new Set() }
  for (const s of samples) {
    if (!isTcp(s) || s.labels.reporter !== 'source') continue
    const l = s.labels
    const src = t.podWorkload(l.source_workload_namespace, l.source_workload)
    if (src === undefined) continue
    const svc = t.service(l.destination_service_namespace, l.destination_service_name)
    const dst = t.podWorkload(l.destination_workload_namespace, l.destination_workload)
    const opened = s.name === 'istio_tcp_connections_opened_total'
    const failed = !opened && l.response_flags !== undefined && l.response_flags !== '-'
    // A Service with a waypoint: the client's connection goes to the waypoint (which reports the rest).
    const waypoint = svc === undefined ? undefined : t.waypointOfService.get(svc)
    if (dst !== undefined && waypoint === undefined) {
      view.seen.add(`${src} ${dst}`)
      if (svc !== undefined) view.serviceOfPair.set(`${src} ${dst}`, svc)
    }
    const hops = waypoint === undefined ? serviceHops(src, svc, dst) : [[src, workloadId(waypoint.namespace, waypoint.name)] as Hop]
    for (const [a, b] of hops) {
      const e = t.edge(a, b)
      if (opened) e.connections += s.value
      if (failed) e.connectionErrors += s.value
      if (!secure(s)) e.mtls = false
      if (svc !== undefined && t.waypointOfService.has(svc)) e.viaWaypoint = true
    }
  }
  return view
}

/**
 * waypoint, reporter="waypoint": HTTP requests client → waypoint → Service → workload (as Kiali draws
 * ambient waypoints); a 403 RBAC is the waypoint's refusal, denied on client → waypoint and going no
 * further. A Service whose waypoint the context does not know: client → Service → workload.
 */
function countWaypointRequests(t: Tally, samples: readonly Sample[]): void {
  for (const s of samples.filter(isRequests('waypoint'))) {
    const l = s.labels
    const src = t.workload(l.source_workload_namespace, l.source_workload)
    const svc = t.service(l.destination_service_namespace, l.destination_service_name)
    const pod = l.destination_workload
    const dst =
      pod === undefined || pod === UNKNOWN ? undefined : t.workload(l.destination_workload_namespace, t.ctx.podWorkloads.get(pod) ?? pod)
    const { failed, denied } = outcome(l)
    const waypoint = svc === undefined ? undefined : t.waypointOfService.get(svc)
    const hops: Hop[] = []
    if (waypoint === undefined) {
      if (src !== undefined && svc !== undefined) hops.push([src, svc])
    } else {
      const wp = workloadId(waypoint.namespace, waypoint.name)
      if (src !== undefined) hops.push([src, wp])
      if (!denied) hops.push([wp, svc!])
    }
    if (svc !== undefined && dst !== undefined && !(denied && waypoint !== undefined)) hops.push([svc, dst])
    for (const [a, b] of hops) {
      const e = t.edge(a, b)
      e.requests += s.value
      if (failed) e.requestErrors += s.value
      if (denied) e.denied += s.value
      if (!secure(s)) e.mtls = false
      e.viaWaypoint = true
    }
  }
}

/** What the caller's sidecar reported, for the callee's sidecar to add its denials to. */
interface SidecarSourceView extends SourceView {
  /** `src dst` → the 403s the caller's sidecar saw. */
  readonly forbidden: Map<string, number>
}

/** sidecar, reporter="source" (sidecar mode): every request once, client → Service → workload. */
function countSidecarSource(t: Tally, samples: readonly Sample[]): SidecarSourceView {
  const view: SidecarSourceView = { serviceOfPair: new Map(), seen: new Set(), forbidden: new Map() }
  for (const s of samples.filter(isRequests('source'))) {
    const l = s.labels
    const src = t.podWorkload(l.source_workload_namespace, l.source_workload)
    if (src === undefined) continue
    const svc = t.service(l.destination_service_namespace, l.destination_service_name)
    const dst = t.podWorkload(l.destination_workload_namespace, l.destination_workload)
    const { code, failed } = outcome(l)
    if (dst !== undefined) {
      const pair = `${src} ${dst}`
      view.seen.add(pair)
      if (svc !== undefined) view.serviceOfPair.set(pair, svc)
      if (code === 403) view.forbidden.set(pair, (view.forbidden.get(pair) ?? 0) + s.value)
    }
    for (const [a, b] of serviceHops(src, svc, dst)) {
      const e = t.edge(a, b)
      e.requests += s.value
      if (failed) e.requestErrors += s.value
      if (!secure(s)) e.mtls = false
    }
  }
  return view
}

/** sidecar, reporter="destination" (sidecar mode): its RBAC denials, and requests no source sidecar reported. */
function countSidecarDestination(t: Tally, samples: readonly Sample[], source: SidecarSourceView): void {
  for (const s of samples.filter(isRequests('destination'))) {
    const l = s.labels
    const dst = t.podWorkload(l.destination_workload_namespace, l.destination_workload)
    if (dst === undefined) continue
    const { failed, denied } = outcome(l)
    for (const c of callers(t, l, dst, source.seen, (pair) => source.forbidden.get(pair) ?? 0)) {
      if (c.seen && !denied) continue
      const value = s.value * c.share
      for (const [a, b] of serviceHops(c.src, source.serviceOfPair.get(`${c.src} ${dst}`), dst)) {
        const e = t.edge(a, b)
        if (!c.seen) {
          e.requests += value
          if (failed) e.requestErrors += value
          if (!secure(s)) e.mtls = false
        }
        if (denied) e.denied += value
      }
    }
  }
}

/**
 * ztunnel, reporter="destination": DENY closes (the destination's verdict) and mTLS on the edges the
 * source drew, the waypoint's own last hop, and connections from clients no source ztunnel saw.
 */
function countZtunnelDestination(t: Tally, samples: readonly Sample[], source: SourceView): void {
  for (const s of samples) {
    if (!isTcp(s) || s.labels.reporter !== 'destination') continue
    const l = s.labels
    const dst = t.podWorkload(l.destination_workload_namespace, l.destination_workload)
    if (dst === undefined) continue
    const waypoint = t.waypointByIdentity.get((l.source_principal ?? '').replace(/^spiffe:\/\//, ''))
    const opened = s.name === 'istio_tcp_connections_opened_total'
    const deniedHere = !opened && l.response_flags === 'DENY'
    const groups: { hops: Hop[]; value: number }[] = []
    let fromWaypoint = false
    if (
      waypoint !== undefined &&
      (l.source_workload === undefined || l.source_workload === UNKNOWN || l.source_workload === waypoint.name)
    ) {
      // The last hop of waypoint traffic: the waypoint's own identity. Drawn from its Service(s).
      fromWaypoint = true
      groups.push({ hops: waypoint.services.map((ws) => [t.service(ws.namespace, ws.name)!, dst]), value: s.value })
    } else {
      for (const c of callers(t, l, dst, source.seen, () => 0)) {
        const hops = serviceHops(c.src, source.serviceOfPair.get(`${c.src} ${dst}`), dst)
        const value = s.value * c.share
        // Traffic no source proxy reported (an uncaptured client) is counted here instead.
        if (opened && !c.seen) for (const [a, b] of hops) t.edge(a, b).connections += value
        groups.push({ hops, value })
      }
    }
    for (const { hops, value } of groups) {
      for (const [a, b] of hops) {
        // Waypoint → pod edges only take the destination's verdict when the waypoint drew them.
        if (fromWaypoint && !t.edges.has(edgeId(a, b)) && !deniedHere) continue
        const e = t.edge(a, b)
        if (deniedHere) e.denied += value
        if (!secure(s)) e.mtls = false
        if (fromWaypoint) e.viaWaypoint = true
      }
    }
  }
}

/** One scrape (all proxies' samples) → cumulative per-edge counters and the nodes they touch. */
export function edgeCounters(samples: readonly Sample[], ctx: GraphContext): Totals {
  const t = newTally(ctx)
  const ztunnelSource = countZtunnelSource(t, samples)
  countWaypointRequests(t, samples)
  countSidecarDestination(t, samples, countSidecarSource(t, samples))
  countZtunnelDestination(t, samples, ztunnelSource)
  return { edges: t.edges, nodes: t.nodes }
}

interface Snapshot {
  readonly atMs: number
  readonly edges: ReadonlyMap<string, EdgeCounters>
}

/** Fewer requests (or connections) than this in the window say nothing about an error rate. */
export const MIN_REQUESTS_FOR_ERRORS = 10

export interface GraphHistoryOptions {
  /** Rates and recent denials are deltas over this window. */
  readonly windowMs?: number
  /** An edge whose counters did not move for this long is left out (Kiali hides idle edges too). Default: 3 windows. */
  readonly idleMs?: number
}

const COUNTS = ['connections', 'connectionErrors', 'requests', 'requestErrors', 'denied'] as const

/**
 * A few seconds of cumulative counters; rates and recent denials are deltas across them. An edge
 * that stops moving is dropped after `idleMs`. An edge is `errors` only for failures over a whole
 * window that starts at least one window after the edge appeared, with at least
 * MIN_REQUESTS_FOR_ERRORS in it: the failures of a cluster's (or a new edge's) first seconds never
 * paint it. Denials show at once.
 */
export class GraphHistory {
  private readonly snapshots: Snapshot[] = []
  private nodes: ReadonlyMap<string, GraphNode> = new Map()
  /** Edge id → when its counters last moved (or it first appeared). */
  private readonly lastChange = new Map<string, number>()
  /** Edge id → when it first appeared. */
  private readonly firstSeen = new Map<string, number>()
  private readonly windowMs: number
  private readonly idleMs: number

  constructor(options: GraphHistoryOptions | number = {}) {
    const o = typeof options === 'number' ? { windowMs: options } : options
    this.windowMs = o.windowMs ?? 10_000
    this.idleMs = o.idleMs ?? 3 * this.windowMs
  }

  add(atMs: number, totals: Totals): void {
    const previous = this.snapshots.at(-1)?.edges
    for (const [id, now] of totals.edges) {
      const before = previous?.get(id)
      if (before === undefined || !this.lastChange.has(id) || COUNTS.some((k) => before[k] !== now[k])) this.lastChange.set(id, atMs)
      if (!this.firstSeen.has(id)) this.firstSeen.set(id, atMs)
    }
    for (const id of [...this.lastChange.keys()]) {
      if (totals.edges.has(id)) continue
      this.lastChange.delete(id)
      this.firstSeen.delete(id)
    }
    this.snapshots.push({ atMs, edges: totals.edges })
    this.nodes = totals.nodes
    // Keep the newest snapshot older than the window as the baseline.
    while (this.snapshots.length > 2 && this.snapshots[1]!.atMs <= atMs - this.windowMs) this.snapshots.shift()
  }

  graph(): Graph {
    const latest = this.snapshots.at(-1)
    const base = this.snapshots.length > 1 ? this.snapshots[0] : undefined
    const seconds = latest !== undefined && base !== undefined ? Math.max(0.001, (latest.atMs - base.atMs) / 1000) : 0
    const edges: GraphEdge[] = []
    for (const [id, now] of latest?.edges ?? []) {
      if (latest!.atMs - (this.lastChange.get(id) ?? latest!.atMs) >= this.idleMs) continue
      const [source, target] = id.split('->') as [string, string]
      const before = base?.edges.get(id)
      const d = (k: (typeof COUNTS)[number]): number => {
        if (before === undefined) return base === undefined ? 0 : now[k]
        return now[k] >= before[k] ? now[k] - before[k] : now[k]
      }
      const http = now.requests > 0
      const total = http ? d('requests') : d('connections')
      // A denial is an error whoever reports it first: the callee's 403 RBAC (denied) and the caller's
      // 403 (requestErrors) come from different scrapes, so take the larger, never their sum.
      const errors = Math.max(http ? d('requestErrors') : d('connectionErrors'), d('denied'))
      const deniedRecent = d('denied')
      const errorRate = total > 0 ? round(Math.min(1, errors / total)) : deniedRecent > 0 ? 1 : 0
      // Errors count from one window after the edge appeared (its first requests, the startup race's
      // among them, never paint it), over a whole window, with enough requests to say something.
      const settled = before !== undefined && base!.atMs >= (this.firstSeen.get(id) ?? Infinity) + this.windowMs
      const health: EdgeHealth =
        deniedRecent > 0 ? 'denied' : errors > 0 && settled && total >= MIN_REQUESTS_FOR_ERRORS ? 'errors' : total > 0 ? 'ok' : 'idle'
      edges.push({
        id,
        source,
        target,
        protocol: http ? 'http' : 'tcp',
        rate: seconds > 0 ? round(total / seconds) : 0,
        errorRate,
        health,
        mtls: now.mtls,
        viaWaypoint: now.viaWaypoint,
        denied: deniedRecent > 0,
        deniedRecent,
        totals: { connections: now.connections, requests: now.requests, denied: now.denied },
      })
    }
    const used = new Set(edges.flatMap((e) => [e.source, e.target]))
    // Services appear when traffic touches them; workloads and waypoints always.
    const nodes = [...this.nodes.values()].filter((n) => n.kind !== 'service' || used.has(n.id))
    return {
      nodes: nodes.sort((a, b) => a.id.localeCompare(b.id)),
      edges: edges.sort((a, b) => a.id.localeCompare(b.id)),
      windowSeconds: round(seconds),
    }
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
