// The mTLS HTTP/2 pieces shared by the bench's reference processes (hbone-reference.ts: the HBONE
// pair of `bench:ztunnel`; l7-reference-proxy.ts: the L7 hop of `bench:waypoint`), written with
// node:net, node:tls and node:http2 only, tuned as a careful hand-written proxy would be: Nagle off
// on every socket, 4 MiB stream and session windows, TLS 1.3, the peer's SPIFFE URI checked once
// per session.
import http2 from 'node:http2'
import type net from 'node:net'
import tls from 'node:tls'
import type { HostPort, SerializedCertificate } from './hbone-config.js'

export const WINDOW = 4 * 1024 * 1024
const SETTINGS: http2.Settings = { initialWindowSize: WINDOW, maxFrameSize: 64 * 1024 - 1 }

function tlsOptions(c: SerializedCertificate): tls.SecureContextOptions {
  return { key: c.keyPem, cert: c.certChainPem.join('\n'), ca: c.rootsPem, minVersion: 'TLSv1.3' }
}

/** An h2 server over TLS that requires a client certificate from the mesh CA. */
export function secureH2Server(certificate: SerializedCertificate): http2.Http2SecureServer {
  const server = http2.createSecureServer({
    ...tlsOptions(certificate),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
    settings: SETTINGS,
  })
  server.on('secureConnection', (socket: tls.TLSSocket) => socket.setNoDelay(true))
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.on('connect', () => session.setLocalWindowSize(WINDOW))
    session.on('error', () => undefined)
  })
  return server
}

/** One h2 client session over TLS 1.3 to `to`, whose certificate must carry the URI SAN `uri`. */
export function connectH2Session(to: HostPort, uri: string, certificate: SerializedCertificate): http2.ClientHttp2Session {
  const s = http2.connect(`https://${to.host}:${to.port}`, {
    settings: SETTINGS,
    createConnection: () => {
      const socket = tls.connect({
        ...tlsOptions(certificate),
        host: to.host,
        port: to.port,
        ALPNProtocols: ['h2'],
        // SPIFFE: the peer's URI SAN, once per session, instead of a host name.
        checkServerIdentity: (_host, cert) =>
          cert.subjectaltname?.split(', ').includes(`URI:${uri}`) ? undefined : new Error(`server is not ${uri}`),
      })
      socket.setNoDelay(true)
      return socket
    },
  })
  s.on('connect', () => s.setLocalWindowSize(WINDOW))
  s.on('error', () => undefined)
  return s
}

/** `host:port` of a CONNECT's :authority, or undefined when it is not one. */
export function splitAuthority(authority: string): HostPort | undefined {
  const colon = authority.lastIndexOf(':')
  const port = Number(authority.slice(colon + 1))
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined
  return { host: authority.slice(0, colon), port }
}

export function listenOn(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port: 0 }, () => resolve((server.address() as net.AddressInfo).port))
  })
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}
