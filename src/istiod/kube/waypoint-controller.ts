// istiod's waypoint controller (Istio's gateway deployment controller, for class istio-waypoint):
// for each waypoint Gateway, make sure its ServiceAccount, Deployment and Service exist (created
// once, owned by the Gateway; a Gateway's deletion removes them through the garbage collector),
// and write the Gateway's status: `addresses` (the Service's hostname and cluster IP) and the
// `Accepted` and `Programmed` conditions (Programmed once the Service has an address). Writes only
// what differs, so its own status writes (which come back as watch events) settle at once.
// Analysis messages are NOT written to object status: they stay on 15014's /debug/analysis.
import { KubeStatusError, type KubeClient, type KubeObject } from '../../kube/client.js'
import {
  WAYPOINT_CLASS,
  waypointDeployment,
  waypointService,
  waypointServiceAccount,
  type WaypointDeploymentOptions,
} from './waypoint-deployment.js'

export interface WaypointController {
  /** Reconciles every waypoint Gateway against the Services the API has (idempotent). */
  reconcile(gateways: readonly KubeObject[], services: readonly KubeObject[]): Promise<void>
}

const path = (kind: 'Deployment' | 'Service' | 'ServiceAccount', ns: string): string =>
  kind === 'Deployment'
    ? `/apis/apps/v1/namespaces/${ns}/deployments`
    : `/api/v1/namespaces/${ns}/${kind === 'Service' ? 'services' : 'serviceaccounts'}`

export function createWaypointController(
  client: KubeClient,
  options: WaypointDeploymentOptions & { readonly clusterDomain?: string; readonly onError: (gateway: string, err: unknown) => void },
): WaypointController {
  /** `ns/name@uid`: what this istiod already created (a recreated Gateway has a new uid). */
  const created = new Set<string>()
  const domain = options.clusterDomain ?? 'cluster.local'

  const ensure = async (kind: 'Deployment' | 'Service' | 'ServiceAccount', ns: string, body: KubeObject): Promise<void> => {
    try {
      await client.create(path(kind, ns), body)
    } catch (err) {
      if (!(err instanceof KubeStatusError && err.statusCode === 409)) throw err
    }
  }

  const one = async (g: KubeObject, services: readonly KubeObject[]): Promise<void> => {
    const ns = g.metadata.namespace ?? 'default'
    const name = g.metadata.name
    const key = `${ns}/${name}@${g.metadata.uid ?? ''}`
    if (!created.has(key)) {
      await ensure('ServiceAccount', ns, waypointServiceAccount(g))
      await ensure('Service', ns, waypointService(g))
      await ensure('Deployment', ns, waypointDeployment(g, options))
      created.add(key)
    }
    const svc = services.find((s) => s.metadata.namespace === ns && s.metadata.name === name)
    const clusterIP = (svc?.spec as { clusterIP?: string } | undefined)?.clusterIP
    const programmed = clusterIP !== undefined && clusterIP !== '' && clusterIP !== 'None'
    const addresses = [
      ...(programmed ? [{ type: 'IPAddress', value: clusterIP }] : []),
      { type: 'Hostname', value: `${name}.${ns}.svc.${domain}` },
    ]
    const generation = (g.metadata.generation as number | undefined) ?? 1
    const conditions = [
      { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Resource accepted', observedGeneration: generation },
      programmed
        ? {
            type: 'Programmed',
            status: 'True',
            reason: 'Programmed',
            message: 'Resource programmed, assigned to service(s) ' + `${name}.${ns}.svc.${domain}:15008`,
            observedGeneration: generation,
          }
        : {
            type: 'Programmed',
            status: 'False',
            reason: 'NoResources',
            message: 'waiting for the waypoint Service to get an address',
            observedGeneration: generation,
          },
    ]
    const current = (g.status ?? {}) as {
      addresses?: unknown
      conditions?: { type: string; status: string; reason?: string; message?: string; observedGeneration?: number }[]
    }
    const same =
      JSON.stringify(current.addresses) === JSON.stringify(addresses) &&
      conditions.every(
        (c) =>
          current.conditions?.some(
            (x) => x.type === c.type && x.status === c.status && x.reason === c.reason && x.observedGeneration === c.observedGeneration,
          ) === true,
      )
    if (same) return
    const now = new Date().toISOString()
    await client.patch(`/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/gateways/${name}/status`, {
      status: { addresses, conditions: conditions.map((c) => ({ ...c, lastTransitionTime: now })) },
    })
  }

  return {
    async reconcile(gateways, services) {
      const waypoints = gateways.filter((g) => (g.spec as { gatewayClassName?: string } | undefined)?.gatewayClassName === WAYPOINT_CLASS)
      const live = new Set(waypoints.map((g) => `${g.metadata.namespace ?? 'default'}/${g.metadata.name}@${g.metadata.uid ?? ''}`))
      for (const k of [...created]) if (!live.has(k)) created.delete(k)
      await Promise.all(
        waypoints.map((g) => one(g, services).catch((err: unknown) => options.onError(`${g.metadata.namespace}/${g.metadata.name}`, err))),
      )
    },
  }
}
