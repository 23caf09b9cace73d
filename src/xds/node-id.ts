// The xDS node of a proxy as Istio writes and reads it (docs/istio-reference.md, "ztunnel as an xDS
// client"): id `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.<cluster domain>`, the `clusterid`
// header on every call to istiod (xDS and CA), and node metadata as strings (NAME, NAMESPACE,
// INSTANCE_IPS, NODE_NAME, CLUSTER_ID, plus each ISTIO_META_<KEY> as <KEY>).

/** The gRPC header Istio's proxies send their cluster id in; istiod reads it on xDS and CA calls. */
export const CLUSTER_ID_HEADER = 'clusterid'

export interface ProxyNode {
  readonly type: string
  readonly ip: string
  readonly pod: string
  readonly namespace: string
  readonly domain: string
}

/** `ztunnel~10.0.0.5~ztunnel-abc.istio-system~istio-system.svc.cluster.local`. */
export function proxyNodeId(n: ProxyNode): string {
  return `${n.type}~${n.ip}~${n.pod}.${n.namespace}~${n.namespace}.svc.${n.domain}`
}

/** Istio's parsing of a node id (four `~` parts; the third is `<pod>.<namespace>`), or undefined. */
export function parseProxyNodeId(id: string): ProxyNode | undefined {
  const parts = id.split('~')
  if (parts.length !== 4) return undefined
  const [type, ip, podNs, dns] = parts as [string, string, string, string]
  const dot = podNs.lastIndexOf('.')
  if (type === '' || dot <= 0 || dot === podNs.length - 1) return undefined
  const namespace = podNs.slice(dot + 1)
  const prefix = `${namespace}.svc.`
  if (!dns.startsWith(prefix) || dns.length === prefix.length) return undefined
  return { type, ip, pod: podNs.slice(0, dot), namespace, domain: dns.slice(prefix.length) }
}

export interface ZtunnelIdentity {
  readonly podName: string
  readonly podNamespace: string
  readonly nodeName: string
  readonly instanceIp: string
  readonly clusterId: string
  readonly clusterDomain: string
  /** ISTIO_META_* without the prefix. */
  readonly proxyMetadata?: Readonly<Record<string, string>>
}

/** The node id, metadata and headers ztunnel sends istiod. */
export function ztunnelNode(z: ZtunnelIdentity): { nodeId: string; nodeMetadata: Record<string, string>; headers: Record<string, string> } {
  return {
    nodeId: proxyNodeId({ type: 'ztunnel', ip: z.instanceIp, pod: z.podName, namespace: z.podNamespace, domain: z.clusterDomain }),
    nodeMetadata: {
      ...z.proxyMetadata,
      NAME: z.podName,
      NAMESPACE: z.podNamespace,
      INSTANCE_IPS: z.instanceIp,
      NODE_NAME: z.nodeName,
      CLUSTER_ID: z.clusterId,
    },
    headers: { [CLUSTER_ID_HEADER]: z.clusterId },
  }
}
