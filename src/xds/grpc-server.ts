// istiod's gRPC listener (15012): one TLS server carrying any number of services (Delta ADS and
// the CA). Clients authenticate with bearer tokens, so a client certificate is not required: a
// node proxy has none before the CA has signed one (Istio's 15012 works the same way).
import { Server, ServerCredentials } from '@grpc/grpc-js'
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js'
import { AmbientError } from '../errors.js'
import { XdsErrorCode } from './errors.js'

export interface GrpcServerTls {
  /** The mesh root: the trust anchor offered to clients that present a certificate. */
  readonly rootCertPem: string
  /** The server's chain, leaf first (PEM). */
  readonly certChainPem: string
  readonly keyPem: string
}

/** A service to serve: its definition, the handlers, and what to do before the server stops. */
export interface GrpcServiceBinding {
  readonly definition: ServiceDefinition
  readonly implementation: UntypedServiceImplementation
  /** Ends long-lived calls (ADS streams) so that shutdown does not wait for them. */
  close?(): void
}

export interface GrpcServerOptions {
  /** Default 127.0.0.1 (istiod's default in the local cluster). */
  readonly host?: string
  /** Default 15012; 0 picks a free port. */
  readonly port?: number
  readonly tls: GrpcServerTls
  readonly services: readonly GrpcServiceBinding[]
  /** How long close() lets calls finish before cutting them. Default 1000 ms. */
  readonly shutdownGraceMs?: number
}

export interface GrpcServer {
  readonly host: string
  readonly port: number
  /** `host:port` for clients (IPv6 bracketed). */
  readonly target: string
  close(): Promise<void>
}

export const DEFAULT_XDS_PORT = 15012

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const host = options.host ?? '127.0.0.1'
  const server = new Server()
  for (const s of options.services) server.addService(s.definition, s.implementation)
  const credentials = ServerCredentials.createSsl(
    Buffer.from(options.tls.rootCertPem),
    [{ cert_chain: Buffer.from(options.tls.certChainPem), private_key: Buffer.from(options.tls.keyPem) }],
    false,
  )
  const hostPort = (p: number) => (host.includes(':') ? `[${host}]:${p}` : `${host}:${p}`)
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort(options.port ?? DEFAULT_XDS_PORT), credentials, (err, bound) => {
      if (err)
        reject(
          new AmbientError(XdsErrorCode.unavailable, `cannot listen on ${hostPort(options.port ?? DEFAULT_XDS_PORT)}: ${err.message}`, {
            side: 'internal',
            cause: err,
          }),
        )
      else resolve(bound)
    })
  })
  let closing: Promise<void> | undefined
  return {
    host,
    port,
    target: hostPort(port),
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of options.services) s.close?.()
        const force = setTimeout(() => server.forceShutdown(), options.shutdownGraceMs ?? 1000)
        force.unref()
        server.tryShutdown(() => {
          clearTimeout(force)
          resolve()
        })
      })
      return closing
    },
  }
}
