// TLS for HBONE: TLS 1.3 only, ALPN h2, no SNI, no resumption, mutual certificates from the mesh CA,
// and the SPIFFE checks OpenSSL cannot do:
// - the client accepts the server only if one URI SAN is one of the expected identities (verified in
//   checkServerIdentity, i.e. during the handshake, before any CONNECT is written);
// - the server accepts a client only from its own trust domain (checked right after the handshake;
//   which identity it is matters only to authorization).
import type tls from 'node:tls'
import type { TLSSocket } from 'node:tls'
import { AmbientError } from '../errors.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import { certificateIdentity, serialHex } from '../identity/certificate.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { HboneErrorCode } from './errors.js'

/** What one side learnt about the other from its certificate. */
export interface PeerCertificate {
  readonly identity: SpiffeId
  readonly serialNumber: string
  readonly notAfter: Date
}

const ALPN = ['h2']

function credentials(cert: WorkloadCertificate): tls.SecureContextOptions {
  return {
    key: cert.keyPem,
    cert: cert.certChainPem.join(''),
    ca: [...cert.rootsPem],
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  }
}

/**
 * Options for the server's secure context; also what updateCertificate passes to setSecureContext.
 *
 * The client certificate is requested and verified by OpenSSL against the mesh roots, but the
 * rejection is ours (checkClientPeer, on 'session', before any stream is served): with
 * `rejectUnauthorized: true`, Node destroys the socket after a failed verification (expired, unknown
 * CA) without telling why; 'tlsClientError' only says "socket hang up" (measured on Node 20.20).
 */
export function serverTlsOptions(cert: WorkloadCertificate): tls.TlsOptions {
  return {
    ...credentials(cert),
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: ALPN,
  }
}

/**
 * Options for one client connection. `servername: ''` keeps SNI out of the ClientHello (Istio sends
 * none); no `session` is ever passed, so there is no resumption.
 */
export function clientTlsOptions(cert: WorkloadCertificate, expected: readonly SpiffeId[]): tls.ConnectionOptions {
  return {
    ...credentials(cert),
    servername: '',
    rejectUnauthorized: true,
    ALPNProtocols: ALPN,
    checkServerIdentity: (_host, peer) => checkServerSan(peer.subjectaltname, expected),
  }
}

/** Undefined when one URI SAN of the server equals one expected identity; else the identity error. */
export function checkServerSan(subjectAltName: string | undefined, expected: readonly SpiffeId[]): AmbientError | undefined {
  const uris = (subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice('URI:'.length))
  const wanted = new Set(expected.map((id) => id.toString()))
  if (uris.some((uri) => wanted.has(uri))) return undefined
  return new AmbientError(
    HboneErrorCode.identityMismatch,
    `server identity ${uris.length ? uris.join(', ') : '(no URI SAN)'} is not one of the expected: ${[...wanted].join(', ')}`,
    { side: 'upstream', details: { expected: [...wanted], actual: uris } },
  )
}

/** The peer's certificate as a SpiffeId and serial; throws when it has no single SPIFFE URI SAN. */
export function peerCertificate(socket: TLSSocket): PeerCertificate {
  const x509 = socket.getPeerX509Certificate()
  if (x509 === undefined) throw new AmbientError(HboneErrorCode.connectFailed, 'peer presented no certificate', { side: 'downstream' })
  return { identity: certificateIdentity(x509), serialNumber: serialHex(x509), notAfter: new Date(x509.validTo) }
}

/** The server-side check after the handshake: a SPIFFE identity of our own trust domain. */
export function checkClientPeer(
  socket: TLSSocket,
  trustDomain: string,
): { ok: true; peer: PeerCertificate } | { ok: false; reason: string } {
  if (socket.getPeerX509Certificate() === undefined) return { ok: false, reason: 'client presented no certificate' }
  if (!socket.authorized) return { ok: false, reason: `client certificate not verified: ${String(socket.authorizationError)}` }
  let peer: PeerCertificate
  try {
    peer = peerCertificate(socket)
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) }
  }
  if (peer.identity.trustDomain !== trustDomain) {
    return { ok: false, reason: `client trust domain "${peer.identity.trustDomain}" is not "${trustDomain}" (${peer.identity.toString()})` }
  }
  return { ok: true, peer }
}
