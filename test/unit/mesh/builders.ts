// Literal mesh values for tests: a valid default for every field, overridden per test.
import type { Authorization, Service, Workload } from '../../../src/mesh/types.js'

export function workload(over: Partial<Workload> & { uid: string }): Workload {
  return {
    name: over.uid,
    namespace: 'default',
    addresses: [],
    hostname: '',
    network: '',
    tunnelProtocol: 'HBONE',
    trustDomain: 'cluster.local',
    serviceAccount: 'default',
    waypoint: undefined,
    node: 'node-a',
    canonicalName: '',
    canonicalRevision: '',
    workloadType: 'DEPLOYMENT',
    workloadName: '',
    services: new Map(),
    authorizationPolicies: [],
    status: 'HEALTHY',
    clusterId: 'Kubernetes',
    capacity: 1,
    ...over,
  }
}

export function service(over: Partial<Service> & { name: string }): Service {
  return {
    namespace: 'default',
    hostname: `${over.name}.${over.namespace ?? 'default'}.svc.cluster.local`,
    addresses: [],
    ports: [],
    subjectAltNames: [],
    waypoint: undefined,
    ...over,
  }
}

export function policy(over: Partial<Authorization> & { name: string }): Authorization {
  return {
    namespace: 'default',
    scope: 'NAMESPACE',
    action: 'ALLOW',
    rules: [],
    dryRun: false,
    ...over,
  }
}
