// What the benchmark sends to its HBONE proxy processes at start (JSON over the IPC channel).

/** A workload certificate as PEM text; the worker rebuilds a WorkloadCertificate from it. */
export interface SerializedCertificate {
  keyPem: string
  certChainPem: string[]
  rootsPem: string[]
}

export interface HostPort {
  host: string
  port: number
}

export interface HboneServerProxyConfig {
  certificate: SerializedCertificate
  /** The only destinations a CONNECT may name; anything else is refused (traffic stays on loopback). */
  allowedTargets: HostPort[]
}

export interface HboneClientProxyConfig {
  certificate: SerializedCertificate
  /** The HBONE server proxy (port 15008 in a real mesh). */
  server: HostPort
  /** SPIFFE ID the server proxy must present. */
  serverIdentity: string
  /** One local listener per target, in this order; each accepted socket becomes a CONNECT to it. */
  targets: HostPort[]
}
