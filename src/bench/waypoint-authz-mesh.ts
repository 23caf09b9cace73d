// bench:authz's waypoint half: a mesh with N L7 AuthorizationPolicies (targetRefs to Services or to
// waypoint Gateways, with HTTP rules: methods, paths and path templates, headers, principals,
// namespaces), written as the YAML a user gives istiod and run through istiod's own parse →
// snapshot → translate, so the policies in ONE waypoint's config (and on one served Service) are
// exactly what istiod sends. The request the bench authorizes goes to `svc-dst-0` in `bench-dst`
// through that namespace's waypoint.
//  - spread: the destination Service has one DENY, its waypoint one waypoint-wide ALLOW; every other
//    policy targets one of the mesh's other 1,009 Services or 100 other waypoints (so the destination
//    waypoint also carries the policies of the 9 other Services it serves, which never apply here);
//  - same-target: every policy targets the destination Service (all apply: the cost follows them).
// One policy in four is a DENY (every applicable DENY is evaluated before any ALLOW decides).
import { parseConfigText } from '../istiod/resources/parse.js'
import { buildSnapshot } from '../istiod/resources/snapshot.js'
import { translate } from '../istiod/translate/index.js'
import { TranslationCode } from '../istiod/translate/messages.js'
import { namespaceYaml } from './istiod-mesh.js'
import type { L7RequestFacts } from '../l7/engines/l7-authz.js'
import type { ServedService, WaypointConfig } from '../mesh/waypoint-config.js'

export type WaypointLayout = 'spread' | 'same-target'

export interface WaypointAuthzMesh {
  readonly policies: number
  readonly layout: WaypointLayout
  /** The destination waypoint's config, as istiod translated it. */
  readonly config: WaypointConfig
  /** The served Service the request goes to. */
  readonly service: ServedService
  readonly request: L7RequestFacts
  /** Policies in the destination waypoint's config: waypoint-wide plus every served Service's. */
  readonly inConfig: number
}

const DST_NS = 'bench-dst'
const NAMESPACES = 100
const SERVICES_PER_NAMESPACE = 10
const CLIENT = 'cluster.local/ns/client/sa/sleep'

const nsName = (n: number): string => `ns-${String(n).padStart(2, '0')}`

/** The namespace (ambient, its own waypoint for every Service) and its Services with one pod each. */
function namespaceWithServices(ns: string, services: readonly string[]): string {
  let text = namespaceYaml(ns, true)
  for (const s of services) {
    text += `apiVersion: v1
kind: Service
metadata: {name: ${s}, namespace: ${ns}}
spec:
  selector: {app: ${s}}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${s}, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${s}}}
  template:
    metadata: {labels: {app: ${s}}}
    spec:
      serviceAccountName: ${s}
      containers: [{name: main, image: app, ports: [{containerPort: 8080}]}]
---
`
  }
  return text
}

type Target = { readonly namespace: string; readonly kind: 'Service' | 'Gateway'; readonly name: string }

const targetRef = (t: Target): string =>
  t.kind === 'Service'
    ? `{kind: Service, group: "", name: ${t.name}}`
    : `{kind: Gateway, group: gateway.networking.k8s.io, name: ${t.name}}`

/** A policy a real mesh might hold for its target; none of its rules matches the bench's request. */
function policyYaml(i: number, t: Target): string {
  const peer = `${nsName((i * 7) % NAMESPACES)}`
  const head = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p-${i}, namespace: ${t.namespace}}
spec:
  targetRefs: [${targetRef(t)}]
`
  if (i % 4 === 0)
    return `${head}  action: DENY
  rules:
    - to: [{operation: {methods: [DELETE], paths: ["/api/v1/tenant-${i}/{**}"]}}]
    - from: [{source: {notNamespaces: [client, ${peer}]}}]
      to: [{operation: {paths: ["/admin/{*}/edit"]}}]
    - to: [{operation: {paths: ["/api/v1/{*}/secrets/{**}"]}}]
      when: [{key: "request.headers[x-debug]", values: ["1"]}]
---
`
  return `${head}  action: ALLOW
  rules:
    - from: [{source: {principals: ["cluster.local/ns/${peer}/sa/svc-${i % 1000}"]}}]
      to: [{operation: {methods: [GET, HEAD], paths: ["/api/v1/tenant-${i}/*", /healthz]}}]
      when: [{key: "request.headers[x-tenant]", values: ["tenant-${i}"]}]
    - from: [{source: {namespaces: [${peer}]}}]
      to: [{operation: {methods: [POST, PUT], paths: ["/api/v1/{*}/items/{**}"]}}]
---
`
}

/**
 * The destination's own: a waypoint-wide ALLOW for the client (same-target: on the Service), and
 * with `total` ≥ 2 a DENY on the Service.
 */
function destinationPolicies(total: number, layout: WaypointLayout): string {
  const allowTarget: Target =
    layout === 'spread'
      ? { namespace: DST_NS, kind: 'Gateway', name: 'waypoint' }
      : { namespace: DST_NS, kind: 'Service', name: 'svc-dst-0' }
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: ${DST_NS}}
spec:
  targetRefs: [${targetRef(allowTarget)}]
  rules:
    - from: [{source: {principals: ["${CLIENT}"]}}]
      to: [{operation: {methods: [GET, HEAD], paths: ["/api/v1/*"]}}]
      when: [{key: "request.headers[x-tenant]", values: ["tenant-*"]}]
---
${total < 2 ? '' : DENY_ADMIN}`
}

const DENY_ADMIN = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: ${DST_NS}}
spec:
  targetRefs: [{kind: Service, group: "", name: svc-dst-0}]
  action: DENY
  rules:
    - to: [{operation: {paths: ["/admin/*", "/api/v1/{*}/secrets/{**}"]}}]
---
`

/** The YAML files of a mesh with `total` L7 policies. */
export function waypointAuthzYaml(total: number, layout: WaypointLayout): { file: string; text: string }[] {
  const dstServices = Array.from({ length: SERVICES_PER_NAMESPACE }, (_, s) => `svc-dst-${s}`)
  const files = [{ file: `${DST_NS}.yaml`, text: namespaceWithServices(DST_NS, dstServices) }]
  const others: Target[] = dstServices.slice(1).map((name) => ({ namespace: DST_NS, kind: 'Service', name }))
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = nsName(n)
    const services = Array.from({ length: SERVICES_PER_NAMESPACE }, (_, s) => `svc-${n * SERVICES_PER_NAMESPACE + s}`)
    files.push({ file: `${ns}.yaml`, text: namespaceWithServices(ns, services) })
    others.push(
      { namespace: ns, kind: 'Gateway', name: 'waypoint' },
      ...services.map((name): Target => ({ namespace: ns, kind: 'Service', name })),
    )
  }
  let policies = destinationPolicies(total, layout)
  const dst: Target = { namespace: DST_NS, kind: 'Service', name: 'svc-dst-0' }
  for (let i = 2; i < total; i++) policies += policyYaml(i, layout === 'spread' ? others[i % others.length]! : dst)
  files.push({ file: 'policies.yaml', text: policies })
  return files
}

/** istiod's parse → snapshot → translate of that mesh; the destination waypoint's config and Service. */
export function buildWaypointAuthzMesh(total: number, layout: WaypointLayout): WaypointAuthzMesh {
  const parsed = waypointAuthzYaml(total, layout).map(({ file, text }) => ({ file, ...parseConfigText(text, file) }))
  const problems = parsed.flatMap((p) => p.messages)
  if (problems.length > 0) throw new Error(`the generated mesh does not parse: ${JSON.stringify(problems[0])}`)
  const { snapshot } = buildSnapshot(parsed.map((p) => ({ file: p.file, objects: p.objects })))
  const tr = translate(snapshot, { nodes: 4 })
  const lost = tr.messages.filter((m) => m.code === TranslationCode.policyTargetNotFound)
  if (lost.length > 0) throw new Error(`a generated policy targets nothing: ${lost[0]!.object}: ${lost[0]!.reason}`)
  const config = tr.waypoints.find((w) => w.namespace === DST_NS && w.name === 'waypoint')
  const service = config?.services.find((s) => s.name === 'svc-dst-0')
  if (config === undefined || service === undefined) throw new Error(`istiod sent no waypoint ${DST_NS}/waypoint serving svc-dst-0`)
  const inConfig = config.authorization.length + config.services.reduce((n, s) => n + s.authorization.length, 0)
  const request: L7RequestFacts = {
    method: 'GET',
    path: '/api/v1/orders?view=full',
    host: `${service.hostname}:80`,
    headers: { 'x-tenant': 'tenant-a', 'user-agent': 'bench', accept: '*/*', 'x-request-id': 'bench' },
    sourcePrincipal: CLIENT,
    sourceNamespace: 'client',
    sourceIp: '127.244.3.1',
    destinationIp: service.addresses[0]!,
    destinationPort: 80,
  }
  return { policies: total, layout, config, service, request, inConfig }
}
