// What istiod creates for a waypoint Gateway (gatewayClassName istio-waypoint), shaped like Istio's
// generated waypoint: a ServiceAccount, a Deployment and a Service named after the Gateway, all
// owned by it (ownerReferences, controller: true) so that deleting the Gateway deletes them (the
// API server's garbage collector), labelled as Istio labels them. The container runs
// `ambient waypoint` fed by istiod over xDS, authenticating with its projected token.
import type { KubeObject } from '../../kube/client.js'
import { GATEWAY_NAME_LABEL, MANAGED_LABEL, WAYPOINT_CONTROLLER } from '../translate/placement.js'
import { L7_PROXY_ENV, L7_PROXY_NODE_FLAGS } from '../../l7-proxy-process.js'

export const WAYPOINT_CLASS = 'istio-waypoint'
export const ISTIO_GATEWAY_NAME_LABEL = 'istio.io/gateway-name'
export const GATEWAY_CLASS_NAME_LABEL = 'gateway.networking.k8s.io/gateway-class-name'
export const WAYPOINT_PORTS = { mesh: 15008, metrics: 15020, status: 15021 } as const
/** The CLI inside the image (the Dockerfile's entrypoint runs it). */
export const IMAGE_CLI = '/app/dist/cli/main.js'

export interface WaypointDeploymentOptions {
  /** The image that has `ambient` as its entrypoint. */
  readonly image: string
  /** istiod's xDS address as pods reach it, e.g. `istiod.istio-system.svc:15012`. */
  readonly xdsAddress: string
  readonly trustDomain: string
}

export function waypointLabels(gateway: KubeObject): Record<string, string> {
  const name = gateway.metadata.name
  return {
    [GATEWAY_NAME_LABEL]: name,
    [ISTIO_GATEWAY_NAME_LABEL]: name,
    [GATEWAY_CLASS_NAME_LABEL]: WAYPOINT_CLASS,
    [MANAGED_LABEL]: WAYPOINT_CONTROLLER,
  }
}

function ownerReference(gateway: KubeObject): Record<string, unknown> {
  return {
    apiVersion: gateway.apiVersion ?? 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    name: gateway.metadata.name,
    uid: gateway.metadata.uid,
    controller: true,
  }
}

function meta(gateway: KubeObject): Record<string, unknown> {
  return {
    name: gateway.metadata.name,
    namespace: gateway.metadata.namespace,
    labels: waypointLabels(gateway),
    ownerReferences: [ownerReference(gateway)],
  }
}

export function waypointServiceAccount(gateway: KubeObject): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(gateway) as KubeObject['metadata'] }
}

export function waypointService(gateway: KubeObject): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(gateway) as KubeObject['metadata'],
    spec: {
      type: 'ClusterIP',
      selector: { [GATEWAY_NAME_LABEL]: gateway.metadata.name },
      ports: [
        { name: 'status-port', port: WAYPOINT_PORTS.status, targetPort: WAYPOINT_PORTS.status, protocol: 'TCP' },
        { name: 'mesh', port: WAYPOINT_PORTS.mesh, targetPort: WAYPOINT_PORTS.mesh, protocol: 'TCP', appProtocol: 'all' },
      ],
    },
  }
}

export function waypointDeployment(gateway: KubeObject, o: WaypointDeploymentOptions): KubeObject {
  const name = gateway.metadata.name
  const namespace = gateway.metadata.namespace ?? 'default'
  const labels = waypointLabels(gateway)
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(gateway) as KubeObject['metadata'],
    spec: {
      replicas: 1,
      selector: { matchLabels: { [GATEWAY_NAME_LABEL]: name } },
      template: {
        // A waypoint terminates HBONE itself: never captured.
        metadata: { labels: { ...labels, 'istio.io/dataplane-mode': 'none', 'sidecar.istio.io/inject': 'false' } },
        spec: {
          serviceAccountName: name,
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'istio-proxy',
              image: o.image,
              // The image's entrypoint (Dockerfile) with the Node flags the local cluster starts a
              // waypoint with; --single-threaded-gc and --no-concurrent-recompilation are not allowed in NODE_OPTIONS.
              command: ['node', '--enable-source-maps', ...L7_PROXY_NODE_FLAGS, IMAGE_CLI],
              args: [
                'waypoint',
                '--name',
                name,
                '--namespace',
                namespace,
                '--xds',
                o.xdsAddress,
                '--node',
                '$(NODE_NAME)',
                '--token-file',
                '/var/run/secrets/tokens/istio-token',
                '--root-cert',
                '/var/run/secrets/istio/root-cert.pem',
                '--trust-domain',
                o.trustDomain,
                '--host',
                '$(INSTANCE_IP)',
              ],
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'INSTANCE_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                ...Object.entries(L7_PROXY_ENV).map(([name, value]) => ({ name, value })),
              ],
              ports: [
                { name: 'mesh', containerPort: WAYPOINT_PORTS.mesh, protocol: 'TCP' },
                { name: 'http-envoy-prom', containerPort: WAYPOINT_PORTS.metrics, protocol: 'TCP' },
                { name: 'status-port', containerPort: WAYPOINT_PORTS.status, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/healthz/ready', port: WAYPOINT_PORTS.status }, periodSeconds: 2, failureThreshold: 4 },
              securityContext: {
                runAsUser: 1337,
                runAsGroup: 1337,
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'istio-token', mountPath: '/var/run/secrets/tokens', readOnly: true },
                { name: 'istio-ca-root-cert', mountPath: '/var/run/secrets/istio', readOnly: true },
              ],
            },
          ],
          volumes: [
            {
              name: 'istio-token',
              projected: { sources: [{ serviceAccountToken: { path: 'istio-token', audience: 'istio-ca', expirationSeconds: 43200 } }] },
            },
            { name: 'istio-ca-root-cert', configMap: { name: 'istio-ca-root-cert' } },
          ],
        },
      },
    },
  }
}
