// Waypoint enrolment, checked label by label (`istio.io/use-waypoint` on a Namespace, Service, Pod
// or Deployment template):
//  - IST0101 when the named Gateway does not exist: Istio then sends no waypoint and traffic skips L7
//    policy silently; the emulator fails closed instead (docs/istio-reference.md), either way an error;
//  - AMB0201 when it exists but is not of class istio-waypoint;
//  - AMB0202 when its `istio.io/waypoint-for` does not take this kind of traffic;
//  - AMB0205 when the labelled object is not in ambient (ztunnel never captures its traffic);
//  - AMB0203 for a waypoint Gateway no label names.
import type { ConfigObject } from '../../resources/model.js'
import { Label, isWaypointGateway, objectName, type AnalysisContext, type WaypointUse } from '../context.js'
import type { Analyzer, Finding } from './analyzer.js'

type Traffic = 'service' | 'workload' | 'namespace'

export const waypointUse: Analyzer = {
  name: 'waypoint-use',
  analyze(ctx) {
    const out: Finding[] = []
    const used = new Set<string>()
    const visit = (use: WaypointUse | undefined, traffic: Traffic, ambient: () => boolean): void => {
      if (use === undefined || use.kind !== 'waypoint') return
      used.add(`${use.namespace}/${use.name}`)
      const f = checkUse(ctx, use, traffic, ambient)
      if (f !== undefined) out.push(f)
    }
    for (const ns of ctx.snapshot.Namespace) {
      visit(ownLabel(ctx.namespaceWaypoint(ns.metadata.name), ns), 'namespace', () => ctx.namespaceAmbient(ns.metadata.name))
    }
    for (const svc of ctx.snapshot.Service) {
      const endpoints = ctx.serviceEndpoints(svc)
      visit(
        ownLabel(ctx.serviceWaypoint(svc), svc),
        'service',
        () => ctx.namespaceAmbient(svc.metadata.namespace) || endpoints.length === 0 || endpoints.some((w) => ctx.isAmbient(w)),
      )
    }
    for (const w of ctx.workloads) visit(ownLabel(ctx.workloadWaypoint(w), w.object), 'workload', () => ctx.isAmbient(w))
    for (const gw of ctx.snapshot.Gateway) {
      if (!isWaypointGateway(gw) || used.has(`${gw.metadata.namespace}/${gw.metadata.name}`)) continue
      out.push({ type: 'UnusedWaypoint', args: [`${gw.metadata.namespace}/${gw.metadata.name}`, gw.metadata.name], object: gw, path: '' })
    }
    return out
  },
}

/** Only the object's own label: a Namespace's label is reported once, on the Namespace. */
function ownLabel(use: WaypointUse, obj: ConfigObject): WaypointUse | undefined {
  return use.kind === 'waypoint' && use.labelledBy === obj ? use : undefined
}

function checkUse(
  ctx: AnalysisContext,
  use: Extract<WaypointUse, { kind: 'waypoint' }>,
  traffic: Traffic,
  ambient: () => boolean,
): Finding | undefined {
  const obj = use.labelledBy
  const gw = ctx.gateway(use.namespace, use.name)
  if (gw === undefined) {
    return {
      type: 'ReferencedResourceNotFound',
      args: ['waypoint Gateway', `${use.namespace}/${use.name}`],
      object: obj,
      path: use.path,
      fix:
        `create a Gateway ${use.name} in namespace ${use.namespace} with gatewayClassName: istio-waypoint ` +
        `and listener {name: mesh, port: 15008, protocol: HBONE}`,
    }
  }
  if (!isWaypointGateway(gw)) {
    return { type: 'WaypointNotAWaypoint', args: [`${use.namespace}/${use.name}`, gw.spec.gatewayClassName], object: obj, path: use.path }
  }
  const waypointFor = gw.metadata.labels[Label.waypointFor] ?? 'service'
  if (!accepts(waypointFor, traffic)) {
    return {
      type: 'WaypointForMismatch',
      args: [`${use.namespace}/${use.name}`, waypointFor, traffic === 'workload' ? 'workload' : 'service'],
      object: obj,
      path: use.path,
      fix: `label Gateway ${use.namespace}/${use.name} istio.io/waypoint-for: ${traffic === 'workload' ? 'workload' : 'service'} (or all)`,
    }
  }
  if (!ambient()) {
    const ns = obj.kind === 'Namespace' ? obj.metadata.name : obj.metadata.namespace
    return {
      type: 'NamespaceNotInAmbient',
      args: [`${objectName(obj)} uses waypoint ${use.namespace}/${use.name}`, ns, notAmbientWhy(ctx, obj, ns)],
      object: obj,
      path: use.path,
    }
  }
  return undefined
}

function accepts(waypointFor: string, traffic: Traffic): boolean {
  switch (traffic) {
    case 'namespace':
      return waypointFor !== 'none'
    case 'service':
      return waypointFor === 'service' || waypointFor === 'all'
    case 'workload':
      return waypointFor === 'workload' || waypointFor === 'all'
  }
}

function notAmbientWhy(ctx: AnalysisContext, obj: ConfigObject, ns: string): string {
  if (obj.kind === 'Namespace') return `it is not labelled ${Label.dataplaneMode}: ambient, so ztunnel captures none of its traffic`
  if (ctx.namespace(ns) === undefined)
    return `the input has no Namespace ${ns} labelled ${Label.dataplaneMode}: ambient, and its pods are not labelled either`
  return `neither Namespace ${ns} nor the pods are labelled ${Label.dataplaneMode}: ambient`
}
