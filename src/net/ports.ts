// The proxy's own well-known ports (Istio's numbers; docs/istio-reference.md). Proxying to one of
// them would loop a flow back into the proxy: ztunnel refuses outbound to them and answers inbound
// that resolves to them with 503.
export const OUTBOUND_CAPTURE_PORT = 15001
export const INBOUND_PLAINTEXT_PORT = 15006
/** HBONE: mutual TLS 1.3 + HTTP/2 CONNECT. */
export const HBONE_PORT = 15008

const PROXY_PORTS: ReadonlySet<number> = new Set([OUTBOUND_CAPTURE_PORT, INBOUND_PLAINTEXT_PORT, HBONE_PORT])

export function isProxyPort(port: number): boolean {
  return PROXY_PORTS.has(port)
}
