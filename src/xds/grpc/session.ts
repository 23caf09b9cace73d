// One HTTP/2 connection to istiod over TLS (ALPN h2), trusting the mesh root and checking istiod's
// identity by SAN (../channel-tls.ts), with our certificate when we have one.
import { connect, type ClientHttp2Session } from 'node:http2'
import { isIP } from 'node:net'
import { createSecureContext, type SecureContext } from 'node:tls'
import { serverIdentityCheck, type ChannelTls } from '../channel-tls.js'

/** `host:port`, `[v6]:port`, or a grpc-js style `dns:host:port` / `ipv4:` / `ipv6:` target. */
export function parseTarget(target: string): { host: string; port: number } {
  const bare = target.replace(/^(dns|ipv4|ipv6):(\/\/\/?)?/, '')
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(bare) ?? /^([^:]+):(\d+)$/.exec(bare)
  if (m === null) throw new RangeError(`gRPC target ${JSON.stringify(target)} is not host:port`)
  return { host: m[1]!, port: Number(m[2]) }
}

export function openSession(target: string, tls: ChannelTls): ClientHttp2Session {
  const { host, port } = parseTarget(target)
  const authority = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
  const session = connect(`https://${authority}`, {
    secureContext: secureContextOf(tls),
    ALPNProtocols: ['h2'],
    // SNI only for a name (Node warns on an IP); the identity check is ours either way.
    ...(isIP(host) === 0 ? { servername: host } : { servername: '' }),
    checkServerIdentity: serverIdentityCheck(tls.serverIdentity),
    // A first sync is megabytes in one response: let istiod send it without waiting for a
    // WINDOW_UPDATE every 64 KiB (HTTP/2's default windows).
    settings: { initialWindowSize: STREAM_WINDOW_BYTES },
  })
  session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW_BYTES))
  return session
}

/** Receive windows: a stream's, and the whole connection's (all calls on it). */
export const STREAM_WINDOW_BYTES = 4 * 1024 * 1024
export const SESSION_WINDOW_BYTES = 8 * 1024 * 1024

/**
 * The TLS context for a trust root and client certificate, made once: building one parses the PEMs
 * (~3 ms), and a process with many connections to istiod (a waypoint's, bench:xds's clients) or a
 * reconnecting proxy would pay that per connection. The last few are kept (certificates rotate).
 */
const contexts = new Map<string, SecureContext>()
const CONTEXTS_KEPT = 4

function secureContextOf(tls: ChannelTls): SecureContext {
  const key = `${tls.rootCertPem}\0${tls.clientCert?.certChainPem ?? ''}\0${tls.clientCert?.keyPem ?? ''}`
  let context = contexts.get(key)
  if (context === undefined) {
    context = createSecureContext({
      ca: tls.rootCertPem,
      ...(tls.clientCert === undefined ? {} : { cert: tls.clientCert.certChainPem, key: tls.clientCert.keyPem }),
    })
    if (contexts.size >= CONTEXTS_KEPT) contexts.delete(contexts.keys().next().value!)
  } else contexts.delete(key)
  contexts.set(key, context)
  return context
}
