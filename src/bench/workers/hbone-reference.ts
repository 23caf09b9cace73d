// The reference HBONE pair of `bench:ztunnel` (issue 14): the least a Node process can do to carry a
// TCP connection over mTLS HTTP/2 CONNECT, written with node:net, node:tls and node:http2 only (none
// of the project's HBONE, pipe or flow code), so that ours ÷ reference on the same load says what
// our ztunnel spends beyond the tunnel itself. Two roles, one process each:
//
// - client: a TCP listener; every accepted socket becomes one CONNECT stream on a single shared
//   TLS 1.3 + h2 session to the server, joined with stream.pipe() both ways;
// - server: h2 over TLS (client certificate required); every CONNECT to an allowed target becomes a
//   TCP connection to it, joined the same way.
//
// Tuned as a careful hand-written relay would be: Nagle off on every socket, 4 MiB stream and session
// windows, no per-chunk work of its own (no counting, timers, logging or metrics). Errors on either
// side destroy both; the reference is a cost yardstick, not a conformant HBONE implementation.
import http2 from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import type { Duplex } from 'node:stream'
import type { HostPort, SerializedCertificate } from './hbone-config.js'
import { serveWorker } from './ipc.js'

export type HboneReferenceConfig =
  | { role: 'server'; host: string; certificate: SerializedCertificate; allowedTargets: HostPort[] }
  | { role: 'client'; host: string; certificate: SerializedCertificate; server: HostPort; serverUri: string; target: HostPort }

const WINDOW = 4 * 1024 * 1024
const SETTINGS: http2.Settings = { initialWindowSize: WINDOW, maxFrameSize: 64 * 1024 - 1 }
const { NGHTTP2_CONNECT_ERROR } = http2.constants

process.noDeprecation = true

/** Joins two duplexes both ways; either one failing or closing early destroys the other. */
function join(a: Duplex, b: Duplex): void {
  a.pipe(b)
  b.pipe(a)
  const kill = (other: Duplex) => (): void => {
    if (!other.destroyed) other.destroy()
  }
  a.on('error', kill(b))
  b.on('error', kill(a))
  a.on('close', kill(b))
  b.on('close', kill(a))
}

function tlsOptions(c: SerializedCertificate): tls.SecureContextOptions {
  return { key: c.keyPem, cert: c.certChainPem.join('\n'), ca: c.rootsPem, minVersion: 'TLSv1.3' }
}

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port: 0 }, () => resolve((server.address() as net.AddressInfo).port))
  })
}

async function startServer(config: Extract<HboneReferenceConfig, { role: 'server' }>) {
  const allowed = new Set(config.allowedTargets.map((t) => `${t.host}:${t.port}`))
  const server = http2.createSecureServer({
    ...tlsOptions(config.certificate),
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
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined)
    const authority = String(headers[':authority'] ?? '')
    const colon = authority.lastIndexOf(':')
    const host = authority.slice(0, colon)
    const port = Number(authority.slice(colon + 1))
    if (headers[':method'] !== 'CONNECT' || !allowed.has(authority)) {
      stream.respond({ ':status': 403 }, { endStream: true })
      return
    }
    const upstream = net.connect({ host, port, noDelay: true })
    upstream.once('connect', () => {
      stream.respond({ ':status': 200 })
      join(stream, upstream)
    })
    upstream.once('error', () => {
      if (!stream.destroyed) stream.close(NGHTTP2_CONNECT_ERROR)
    })
  })
  const port = await listen(server, config.host)
  return { ports: [port], close: () => closeServer(server) }
}

async function startClient(config: Extract<HboneReferenceConfig, { role: 'client' }>) {
  const { server: to, serverUri, certificate, target } = config
  let session: http2.ClientHttp2Session | undefined
  const connect = (): http2.ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session
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
            cert.subjectaltname?.split(', ').includes(`URI:${serverUri}`) ? undefined : new Error(`server is not ${serverUri}`),
        })
        socket.setNoDelay(true)
        return socket
      },
    })
    s.on('connect', () => s.setLocalWindowSize(WINDOW))
    s.on('error', () => undefined)
    session = s
    return s
  }
  const listener = net.createServer({ noDelay: true }, (downstream) => {
    downstream.on('error', () => undefined)
    const stream = connect().request({ ':method': 'CONNECT', ':authority': `${target.host}:${target.port}` }, { endStream: false })
    stream.on('error', () => downstream.destroy())
    stream.once('response', (headers) => {
      if (headers[':status'] === 200) join(downstream, stream)
      else downstream.destroy()
    })
  })
  const port = await listen(listener, config.host)
  return {
    ports: [port],
    async close() {
      session?.destroy()
      await closeServer(listener)
    },
  }
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

serveWorker<HboneReferenceConfig>((config) => (config.role === 'server' ? startServer(config) : startClient(config)))
