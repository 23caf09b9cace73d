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
import type { Duplex } from 'node:stream'
import type { HostPort, SerializedCertificate } from './hbone-config.js'
import { serveWorker } from './ipc.js'
import { closeServer, connectH2Session, listenOn, secureH2Server, splitAuthority } from './reference-h2.js'

export type HboneReferenceConfig =
  | { role: 'server'; host: string; certificate: SerializedCertificate; allowedTargets: HostPort[] }
  | { role: 'client'; host: string; certificate: SerializedCertificate; server: HostPort; serverUri: string; target: HostPort }

const { NGHTTP2_CONNECT_ERROR } = http2.constants

// Read-only (and already true) under --no-deprecation, which the proxies' flags carry.
if (!process.noDeprecation) process.noDeprecation = true

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

async function startServer(config: Extract<HboneReferenceConfig, { role: 'server' }>) {
  const allowed = new Set(config.allowedTargets.map((t) => `${t.host}:${t.port}`))
  const server = secureH2Server(config.certificate)
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined)
    const authority = String(headers[':authority'] ?? '')
    const target = splitAuthority(authority)
    if (headers[':method'] !== 'CONNECT' || target === undefined || !allowed.has(authority)) {
      stream.respond({ ':status': 403 }, { endStream: true })
      return
    }
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true })
    upstream.once('connect', () => {
      stream.respond({ ':status': 200 })
      join(stream, upstream)
    })
    upstream.once('error', () => {
      if (!stream.destroyed) stream.close(NGHTTP2_CONNECT_ERROR)
    })
  })
  const port = await listenOn(server, config.host)
  return { ports: [port], close: () => closeServer(server) }
}

async function startClient(config: Extract<HboneReferenceConfig, { role: 'client' }>) {
  const { server: to, serverUri, certificate, target } = config
  let session: http2.ClientHttp2Session | undefined
  const connect = (): http2.ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session
    session = connectH2Session(to, serverUri, certificate)
    return session
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
  const port = await listenOn(listener, config.host)
  return {
    ports: [port],
    async close() {
      session?.destroy()
      await closeServer(listener)
    },
  }
}

serveWorker<HboneReferenceConfig>((config) => (config.role === 'server' ? startServer(config) : startClient(config)))
