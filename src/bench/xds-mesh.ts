// The generated mesh of `bench:xds`: workloads, services and authorization policies as domain values
// (src/mesh/types.ts, src/authz/policy.ts), deterministic for a given size, and a mutable store that
// serves them to the Delta ADS server as one ResourceProvider per type URL. istiod's translation is
// deliberately not here: the bench measures the xDS server, the wire and the clients, not istiod.
import { match } from '../authz/policy.js'
import type { Authorization, PolicyScope, Rule } from '../authz/policy.js'
import { serviceKey } from '../mesh/types.js'
import type { PortMapping, Service, Workload } from '../mesh/types.js'
import { addressResourceName, authorizationResourceName, encodeAddress, encodeAuthorization, TYPE_URL } from '../xds/convert.js'
import { versioned } from '../xds/resource-provider.js'
import type { ResourceProvider, VersionedResource } from '../xds/resource-provider.js'

export interface MeshSize {
  readonly workloads: number
  readonly services: number
  readonly policies: number
  /** Nodes (one ztunnel each): workloads are spread over them round-robin. */
  readonly nodes: number
}

export interface GeneratedMesh {
  readonly workloads: Workload[]
  readonly services: Service[]
  readonly policies: Authorization[]
}

const TRUST_DOMAIN = 'cluster.local'
const ROOT_NAMESPACE = 'istio-system'
const SERVICES_PER_NAMESPACE = 10
/** The port the policy change rewrites: every policy's last rule matches it, so a change keeps the size. */
export const MARKER_PORT_BASE = 20_000

export const nodeName = (i: number): string => `node-${i}`
const namespaceOf = (serviceIndex: number): string => `ns-${String(Math.floor(serviceIndex / SERVICES_PER_NAMESPACE)).padStart(2, '0')}`
const ip = (a: number, b: number, n: number): string => `${a}.${b}.${(n >> 8) & 255}.${n & 255}`

function service(s: number): Service {
  const namespace = namespaceOf(s)
  const name = `svc-${s}`
  return {
    name,
    namespace,
    hostname: `${name}.${namespace}.svc.cluster.local`,
    addresses: [ip(10, 96, s + 1)],
    ports: [
      { servicePort: 80, targetPort: 8080, appProtocol: 'HTTP' },
      { servicePort: 443, targetPort: 8443, appProtocol: 'UNKNOWN' },
    ],
    subjectAltNames: [],
    // Every fourth namespace runs a waypoint.
    waypoint:
      Math.floor(s / SERVICES_PER_NAMESPACE) % 4 === 0
        ? { kind: 'hostname', namespace, hostname: `waypoint.${namespace}.svc.cluster.local`, hboneMtlsPort: 15008 }
        : undefined,
  }
}

/** Selector policies are spread evenly over the services; `selecting[s]` lists those of service s. */
function selectorTargets(size: MeshSize, selectorPolicies: number): number[] {
  return Array.from({ length: selectorPolicies }, (_, k) => Math.floor((k * size.services) / selectorPolicies))
}

function policy(k: number, scope: PolicyScope, namespace: string, targetService: number, size: MeshSize): Authorization {
  const peerService = (targetService + 7) % size.services
  const rules: Rule[] = [
    {
      clauses: [
        {
          matches: [
            match({ principals: [{ exact: `${TRUST_DOMAIN}/ns/${namespaceOf(peerService)}/sa/sa-${peerService}` }] }),
            match({ namespaces: [{ exact: namespaceOf(peerService) }] }),
          ],
        },
        { matches: [match({ destinationPorts: [8080, 8443] })] },
      ],
    },
    { clauses: [{ matches: [match({ sourceIps: [{ address: '10.1.0.0', length: 16 }], notPrincipals: [{ suffix: '/sa/untrusted' }] })] }] },
    markerRule(MARKER_PORT_BASE),
  ]
  return { name: `policy-${k}`, namespace, scope, action: k % 5 === 4 ? 'DENY' : 'ALLOW', rules, dryRun: false }
}

function markerRule(port: number): Rule {
  return { clauses: [{ matches: [match({ destinationPorts: [port] })] }] }
}

/**
 * 1 GLOBAL policy (root namespace), one NAMESPACE policy per namespace (at most a fifth of the
 * policies), the rest WORKLOAD_SELECTOR policies attached to every workload of one service each.
 */
export function generateMesh(size: MeshSize): GeneratedMesh {
  const services = Array.from({ length: size.services }, (_, s) => service(s))
  const namespaces = [...new Set(services.map((s) => s.namespace))]
  const namespacePolicies = Math.min(namespaces.length, Math.max(0, Math.floor(size.policies / 5)))
  const globalPolicies = size.policies > namespacePolicies ? 1 : 0
  const selectorPolicies = size.policies - namespacePolicies - globalPolicies
  const policies: Authorization[] = []
  if (globalPolicies) policies.push(policy(0, 'GLOBAL', ROOT_NAMESPACE, 0, size))
  for (let i = 0; i < namespacePolicies; i++)
    policies.push(policy(policies.length, 'NAMESPACE', namespaces[i]!, i * SERVICES_PER_NAMESPACE, size))
  const targets = selectorTargets(size, selectorPolicies)
  const selecting = new Map<number, string[]>()
  for (const target of targets) {
    const p = policy(policies.length, 'WORKLOAD_SELECTOR', namespaceOf(target), target, size)
    policies.push(p)
    selecting.set(target, [...(selecting.get(target) ?? []), `${p.namespace}/${p.name}`])
  }
  const workloads = Array.from({ length: size.workloads }, (_, w): Workload => {
    const s = Math.floor((w * size.services) / size.workloads)
    const svc = services[s]!
    const ports: PortMapping[] = [
      { servicePort: 80, targetPort: 8080 },
      { servicePort: 443, targetPort: 8443 },
    ]
    const name = `${svc.name}-${w.toString(36).padStart(4, '0')}`
    return {
      uid: `Kubernetes//Pod/${svc.namespace}/${name}`,
      name,
      namespace: svc.namespace,
      addresses: [ip(10, 1, w + 1)],
      hostname: '',
      network: '',
      tunnelProtocol: 'HBONE',
      trustDomain: TRUST_DOMAIN,
      serviceAccount: `sa-${s}`,
      waypoint: svc.waypoint,
      node: nodeName(w % size.nodes),
      canonicalName: svc.name,
      canonicalRevision: 'v1',
      workloadType: 'DEPLOYMENT',
      workloadName: svc.name,
      services: new Map([[serviceKey(svc), ports]]),
      authorizationPolicies: selecting.get(s) ?? [],
      status: 'HEALTHY',
      clusterId: 'Kubernetes',
      capacity: 1,
    }
  })
  return { workloads, services, policies }
}

/** A ResourceProvider over a map the bench mutates: every node gets every resource (ztunnel's wildcard). */
export class MutableProvider implements ResourceProvider {
  readonly items = new Map<string, VersionedResource>()
  constructor(readonly typeUrl: string) {}
  resources(): ReadonlyMap<string, VersionedResource> {
    return this.items
  }
}

/** What one change put into the providers: the type and, per resource name, its new version and size. */
export interface AppliedChange {
  readonly typeUrl: string
  readonly resources: readonly { readonly name: string; readonly version: string; readonly bytes: number }[]
}

/** The mesh as istiod would hold it after translation: domain values plus their encoded resources. */
export class MeshStore {
  readonly addresses = new MutableProvider(TYPE_URL.address)
  readonly authorization = new MutableProvider(TYPE_URL.authorization)
  readonly mesh: GeneratedMesh

  constructor(mesh: GeneratedMesh) {
    this.mesh = mesh
    for (const s of mesh.services)
      this.#put(this.addresses, addressResourceName({ kind: 'service', value: s }), encodeAddress({ kind: 'service', value: s }))
    for (const w of mesh.workloads) this.#put(this.addresses, w.uid, encodeAddress({ kind: 'workload', value: w }))
    for (const p of mesh.policies) this.#put(this.authorization, authorizationResourceName(p), encodeAuthorization(p))
  }

  get providers(): readonly ResourceProvider[] {
    return [this.addresses, this.authorization]
  }

  /** Encoded bytes of everything, per type: what a fresh ztunnel must receive. */
  totalBytes(): { address: number; authorization: number } {
    const sum = (p: MutableProvider): number => [...p.items.values()].reduce((n, r) => n + r.bytes.length, 0)
    return { address: sum(this.addresses), authorization: sum(this.authorization) }
  }

  /** Rewrites the marker port of policies `indexes` to `port` (a real content change of constant size). */
  changePolicies(indexes: readonly number[], port: number): AppliedChange {
    const resources = indexes.map((i) => {
      const old = this.mesh.policies[i]!
      const p: Authorization = { ...old, rules: [...old.rules.slice(0, -1), markerRule(port)] }
      this.mesh.policies[i] = p
      return this.#put(this.authorization, authorizationResourceName(p), encodeAuthorization(p))
    })
    return { typeUrl: TYPE_URL.authorization, resources }
  }

  /** Sets workload `index`'s capacity (load-balancing weight), as a scale or weight change would. */
  changeWorkload(index: number, capacity: number): AppliedChange {
    const w: Workload = { ...this.mesh.workloads[index]!, capacity }
    this.mesh.workloads[index] = w
    return { typeUrl: TYPE_URL.address, resources: [this.#put(this.addresses, w.uid, encodeAddress({ kind: 'workload', value: w }))] }
  }

  #put(provider: MutableProvider, name: string, bytes: Uint8Array): { name: string; version: string; bytes: number } {
    const r = versioned(bytes)
    provider.items.set(name, r)
    return { name, version: r.version, bytes: bytes.length }
  }
}
