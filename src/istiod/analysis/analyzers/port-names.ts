// IST0118: a Service port whose protocol Istio cannot tell from its name or appProtocol. In ambient
// this decides whether a waypoint treats the port as HTTP (routes, L7 policy) or as opaque TCP.
// Istio's convention: `<protocol>[-<suffix>]`; appProtocol, when set, wins.
import type { Analyzer, Finding } from './analyzer.js'

/** The protocols Istio's port-name convention knows (protocol.Parse), lower-cased. */
const PROTOCOLS = new Set(['http', 'http2', 'https', 'grpc', 'grpc-web', 'tcp', 'tls', 'mongo', 'mysql', 'redis', 'udp'])
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'istio-system', 'local-path-storage'])

export function protocolFromPortName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined
  const lower = name.toLowerCase()
  if (PROTOCOLS.has(lower)) return lower
  if (lower.startsWith('grpc-web-')) return 'grpc-web'
  const prefix = lower.split('-')[0] ?? ''
  return PROTOCOLS.has(prefix) ? prefix : undefined
}

export const portNames: Analyzer = {
  name: 'port-names',
  analyze(ctx) {
    const out: Finding[] = []
    for (const svc of ctx.snapshot.Service) {
      if (SYSTEM_NAMESPACES.has(svc.metadata.namespace) || svc.spec.type === 'ExternalName') continue
      svc.spec.ports.forEach((p, i) => {
        if ((p.appProtocol !== undefined && p.appProtocol !== '') || protocolFromPortName(p.name) !== undefined) return
        out.push({
          type: 'PortNameIsNotUnderNamingConvention',
          args: [p.name ?? '(unnamed)', p.port, String(p.targetPort)],
          object: svc,
          path: `spec.ports[${i}]`,
          fix: `name it e.g. http${p.name === undefined ? '' : `-${p.name}`} or set appProtocol: http (or tcp) so the waypoint knows the protocol`,
        })
      })
    }
    return out
  },
}
