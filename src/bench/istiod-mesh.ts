// The generated config of `bench:istiod`: the YAML files a user would give istiod for a mesh of
// `services` Services with `podsPerService` replicas each and `policies` AuthorizationPolicies,
// deterministic for a given size. Same shape as bench:xds's mesh (./xds-mesh.ts), one level up: this
// is istiod's input (Namespaces, Deployments, Services, waypoint Gateways, AuthorizationPolicies),
// not its output, so the bench runs istiod's own parse → translate → providers path.
//
// Files: `<ns>.yaml` (the Namespace, its waypoint if any, Services and Deployments) and
// `<ns>-policies.yaml` (that namespace's policies), so a policy change re-parses one small file, as
// the directory source does.

export interface IstiodMeshSize {
  readonly services: number
  readonly podsPerService: number
  readonly policies: number
}

export interface ConfigFile {
  readonly file: string
  readonly text: string
}

const ROOT_NAMESPACE = 'istio-system'
const SERVICES_PER_NAMESPACE = 10
/** The port a policy change rewrites: every policy's last rule matches it, so a change keeps the size. */
export const MARKER_PORT_BASE = 20_000

const namespaceOf = (s: number): string => `ns-${String(Math.floor(s / SERVICES_PER_NAMESPACE)).padStart(2, '0')}`
/** Every fourth namespace sends its traffic through a waypoint. */
const hasWaypoint = (namespaceIndex: number): boolean => namespaceIndex % 4 === 0

interface PolicySpec {
  readonly name: string
  readonly namespace: string
  /** The service whose pods it selects; undefined for a namespace-wide (or, in the root namespace, global) policy. */
  readonly target: number | undefined
  readonly peer: number
  readonly deny: boolean
}

/** The mesh's policies: 1 global, one per namespace (at most a fifth), the rest selecting one service's pods each. */
function policySpecs(size: IstiodMeshSize): PolicySpec[] {
  const namespaces = Math.ceil(size.services / SERVICES_PER_NAMESPACE)
  const perNamespace = Math.min(namespaces, Math.floor(size.policies / 5))
  const global = size.policies > perNamespace ? 1 : 0
  const selector = size.policies - perNamespace - global
  const out: PolicySpec[] = []
  const add = (namespace: string, target: number | undefined, anchor: number): void => {
    const k = out.length
    out.push({ name: `policy-${k}`, namespace, target, peer: (anchor + 7) % size.services, deny: k % 5 === 4 })
  }
  if (global) add(ROOT_NAMESPACE, undefined, 0)
  for (let i = 0; i < perNamespace; i++) add(namespaceOf(i * SERVICES_PER_NAMESPACE), undefined, i * SERVICES_PER_NAMESPACE)
  for (let k = 0; k < selector; k++) {
    const target = Math.floor((k * size.services) / selector)
    add(namespaceOf(target), target, target)
  }
  return out
}

function policyYaml(p: PolicySpec, markerPort: number): string {
  const peerNs = namespaceOf(p.peer)
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${p.name}, namespace: ${p.namespace}}
spec:
${p.target === undefined ? '' : `  selector: {matchLabels: {app: svc-${p.target}}}\n`}  action: ${p.deny ? 'DENY' : 'ALLOW'}
  rules:
    - from: [{source: {principals: ["cluster.local/ns/${peerNs}/sa/sa-${p.peer}"], namespaces: ["${peerNs}"]}}]
      to: [{operation: {ports: ["8080", "8443"]}}]
    - from: [{source: {ipBlocks: ["10.1.0.0/16"], notPrincipals: ["*/sa/untrusted"]}}]
    - to: [{operation: {ports: ["${markerPort}"]}}]
---
`
}

/** A Namespace enrolled in ambient, with its waypoint Gateway (used by the namespace) when `waypoint`. */
export function namespaceYaml(namespace: string, waypoint: boolean): string {
  const labels = { 'istio.io/dataplane-mode': 'ambient', ...(waypoint ? { 'istio.io/use-waypoint': 'waypoint' } : {}) }
  const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: ${namespace}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
`
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n  labels: ${JSON.stringify(labels)}\n---\n${waypoint ? gateway : ''}`
}

function serviceYaml(s: number, namespace: string, replicas: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: svc-${s}, namespace: ${namespace}}
spec:
  selector: {app: svc-${s}}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: svc-${s}, namespace: ${namespace}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: svc-${s}}}
  template:
    metadata: {labels: {app: svc-${s}, version: v1}}
    spec:
      serviceAccountName: sa-${s}
      containers: [{name: main, image: app, ports: [{name: http, containerPort: 8080}, {name: https, containerPort: 8443}]}]
---
`
}

export interface IstiodMeshConfig {
  readonly files: readonly ConfigFile[]
  /** The file that holds policy `index`, with that policy's marker port rewritten to `port`. */
  changePolicy(index: number, port: number): ConfigFile
  readonly policyCount: number
}

export function generateIstiodConfig(size: IstiodMeshSize): IstiodMeshConfig {
  const policies = policySpecs(size)
  const markers = policies.map(() => MARKER_PORT_BASE)
  const policiesFile = (namespace: string): ConfigFile => ({
    file: `${namespace}-policies.yaml`,
    text: policies.map((p, i) => (p.namespace === namespace ? policyYaml(p, markers[i]!) : '')).join(''),
  })
  const files: ConfigFile[] = [{ file: `${ROOT_NAMESPACE}.yaml`, text: namespaceYaml(ROOT_NAMESPACE, false) }]
  const namespaces = Math.ceil(size.services / SERVICES_PER_NAMESPACE)
  for (let n = 0; n < namespaces; n++) {
    const namespace = namespaceOf(n * SERVICES_PER_NAMESPACE)
    let text = namespaceYaml(namespace, hasWaypoint(n))
    for (let s = n * SERVICES_PER_NAMESPACE; s < Math.min(size.services, (n + 1) * SERVICES_PER_NAMESPACE); s++)
      text += serviceYaml(s, namespace, size.podsPerService)
    files.push({ file: `${namespace}.yaml`, text })
  }
  for (const namespace of [ROOT_NAMESPACE, ...Array.from({ length: namespaces }, (_, n) => namespaceOf(n * SERVICES_PER_NAMESPACE))])
    files.push(policiesFile(namespace))
  return {
    files,
    policyCount: policies.length,
    changePolicy(index, port) {
      const p = policies[index]
      if (p === undefined) throw new RangeError(`no policy ${index} (there are ${policies.length})`)
      markers[index] = port
      return policiesFile(p.namespace)
    },
  }
}
