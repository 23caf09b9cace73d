// The environment a data-plane proxy (ztunnel, waypoint, sidecar) starts with, from the runner's.
//
// NODE_EXTRA_CA_CERTS names a PEM bundle that Node parses at start-up into every process's default
// trust store; some machines set it to the whole system bundle for every process. Parsing ~150
// certificates costs each process ~1.8 MB of RSS (a bare `node -e` with one listening socket: 43.6
// against 41.9 MB here). A proxy never uses that store for the mesh: mesh mTLS trusts the mesh root,
// and the xDS and CA channels trust istiod's root, both given explicitly. The one connection a proxy
// makes with Node's default trust is to a Zipkin collector over https (AMBIENT_ZIPKIN_URL), so the
// variable is kept only when that collector is https.

export const EXTRA_CA_CERTS_VAR = 'NODE_EXTRA_CA_CERTS'

/** Whether a proxy started with `env` needs Node's extra CA certificates (an https Zipkin collector). */
export function proxyNeedsExtraCaCerts(env: Readonly<Record<string, string | undefined>>): boolean {
  return /^https:/i.test(env.AMBIENT_ZIPKIN_URL?.trim() ?? '')
}

/** `env` for a proxy: a copy without NODE_EXTRA_CA_CERTS unless the proxy needs it. */
export function proxyEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env }
  if (!proxyNeedsExtraCaCerts(env)) delete out[EXTRA_CA_CERTS_VAR]
  return out
}
