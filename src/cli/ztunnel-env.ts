// `ambient ztunnel` configured the way Istio's ztunnel chart configures ztunnel: environment only
// (docs/istio-reference.md, "ztunnel's environment"). Reading the environment stays in src/cli.
//   NODE_NAME, INSTANCE_IP (required); POD_NAME, POD_NAMESPACE (default ztunnel, istio-system);
//   XDS_ADDRESS, CA_ADDRESS (default https://localhost:15012, or https://istiod.istio-system.svc:15012
//   when KUBERNETES_SERVICE_HOST is set; CA_ADDRESS defaults to that same default, as ztunnel's);
//   CLUSTER_ID (Kubernetes), CLUSTER_DOMAIN (cluster.local); XDS_ROOT_CA, CA_ROOT_CA (a file;
//   default /var/run/secrets/istio/root-cert.pem); ISTIO_META_<KEY> → node metadata <KEY>;
//   the token at /var/run/secrets/tokens/istio-token, or AMBIENT_TOKEN_FILE (ours: Istio has no such
//   variable). INPOD_UDS: istio-cni's ZDS socket; when set (or INPOD_ENABLED=true, then at Istio's
//   default path) ztunnel captures in-pod the pods istio-cni hands over (src/ztunnel/zds.ts).
// istiod is verified by the host of XDS_ADDRESS (a DNS or IP SAN), as ztunnel's TLS client does.
import { isIP } from 'node:net'
import { AmbientError } from '../errors.js'
import type { DaemonXdsOptions } from '../ztunnel/daemon.js'
import { ztunnelNode } from '../xds/node-id.js'

export const ISTIO_PATHS = {
  rootCert: '/var/run/secrets/istio/root-cert.pem',
  token: '/var/run/secrets/tokens/istio-token',
  inpodUds: '/var/run/ztunnel/ztunnel.sock',
} as const

type Env = Readonly<Record<string, string | undefined>>

export interface ZtunnelEnvConfig {
  readonly node: string
  readonly nodeIp: string
  readonly xds: DaemonXdsOptions
  readonly inpodUds: string
  /** Connect to inpodUds (ZDS): INPOD_UDS set, or INPOD_ENABLED=true. */
  readonly inpodEnabled: boolean
}

/** Whether the environment looks like Istio's ztunnel chart (and no CLI flag chose a mode). */
export function hasZtunnelEnv(env: Env): boolean {
  return env.NODE_NAME !== undefined && env.INSTANCE_IP !== undefined
}

export function ztunnelFromEnv(env: Env): ZtunnelEnvConfig {
  const need = (name: string): string => {
    const v = env[name]
    if (v === undefined || v === '')
      throw new AmbientError('CLI_USAGE', `${name} is not set (Istio's ztunnel chart sets it from the pod's fields)`, { side: 'config' })
    return v
  }
  const node = need('NODE_NAME')
  const nodeIp = need('INSTANCE_IP')
  if (isIP(nodeIp) === 0) throw new AmbientError('CLI_USAGE', `INSTANCE_IP "${nodeIp}" is not an IP address`, { side: 'config' })
  const defaultIstiod = env.KUBERNETES_SERVICE_HOST === undefined ? 'https://localhost:15012' : 'https://istiod.istio-system.svc:15012'
  const xdsAddress = hostPort('XDS_ADDRESS', env.XDS_ADDRESS || defaultIstiod)
  const caAddress = hostPort('CA_ADDRESS', env.CA_ADDRESS || defaultIstiod)
  const clusterId = env.CLUSTER_ID || 'Kubernetes'
  const proxyMetadata = Object.fromEntries(
    Object.entries(env)
      .filter((e): e is [string, string] => e[0].startsWith('ISTIO_META_') && e[0].length > 'ISTIO_META_'.length && e[1] !== undefined)
      .map(([k, v]) => [k.slice('ISTIO_META_'.length), v]),
  )
  const { nodeId, nodeMetadata } = ztunnelNode({
    podName: env.POD_NAME || 'ztunnel',
    podNamespace: env.POD_NAMESPACE || 'istio-system',
    nodeName: node,
    instanceIp: nodeIp,
    clusterId,
    clusterDomain: env.CLUSTER_DOMAIN || 'cluster.local',
    proxyMetadata,
  })
  const rootCertFile = env.XDS_ROOT_CA || ISTIO_PATHS.rootCert
  return {
    node,
    nodeIp,
    inpodUds: env.INPOD_UDS || ISTIO_PATHS.inpodUds,
    inpodEnabled: (env.INPOD_UDS ?? '') !== '' || env.INPOD_ENABLED === 'true',
    xds: {
      target: xdsAddress.target,
      serverIdentity: xdsAddress.host,
      caTarget: caAddress.target,
      rootCertFile,
      caRootCertFile: env.CA_ROOT_CA || rootCertFile,
      tokenFile: env.AMBIENT_TOKEN_FILE || ISTIO_PATHS.token,
      nodeId,
      nodeMetadata,
      clusterId,
    },
  }
}

/** `https://host:port`, `host:port` or `[v6]:port` → the gRPC target and the host to verify. */
function hostPort(name: string, value: string): { target: string; host: string } {
  const rest = value.replace(/^https?:\/\//, '').replace(/\/$/, '')
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(rest)
  if (m === null) throw new AmbientError('CLI_USAGE', `${name} "${value}" is not host:port (or https://host:port)`, { side: 'config' })
  return { target: rest, host: m[1]!.replace(/^\[|\]$/g, '') }
}
