// The proxy's own ports (ambient-reference.md, "Ports"). Proxying to one of them would loop a flow
// back into ztunnel: outbound to them is refused, inbound resolving to them answers 503.
export const OUTBOUND_CAPTURE_PORT = 15001
export const INBOUND_PLAINTEXT_PORT = 15006
export const HBONE_PORT = 15008

const PROXY_PORTS: ReadonlySet<number> = new Set([OUTBOUND_CAPTURE_PORT, INBOUND_PLAINTEXT_PORT, HBONE_PORT])

export function isProxyPort(port: number): boolean {
  return PROXY_PORTS.has(port)
}
