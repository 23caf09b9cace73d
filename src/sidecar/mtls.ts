// Sidecar-to-sidecar mutual TLS, Istio's sidecar style: TLS on the application connection itself
// (client → `<peer pod IP>:<target port>`), not HBONE. The certificate rules are HBONE's
// (src/hbone/tls.ts: TLS 1.3, mesh roots, no SNI, no resumption, the client checks the server's
// SPIFFE URI SAN against the expected identity during the handshake, the server requires a client
// certificate of its trust domain); only the ALPN differs.
//
// ALPN: Istio's sidecars offer `istio-peer-exchange`, `istio-http/1.0|1.1|2` or `istio` on
// mesh-internal mTLS so the server side knows the peer is a sidecar. We offer Istio's
// `istio-http/1.1`, `istio-h2` and `istio` and the server accepts any of them; which protocol the
// connection carries is decided as for plaintext (declared port protocol, else sniffing the first
// bytes), never from the ALPN, so a peer offering plain `h2`/`http/1.1` is served too.
import tls from 'node:tls'
import { AmbientError } from '../errors.js'
import { clientTlsOptions, serverTlsOptions } from '../hbone/tls.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import type { SpiffeId } from '../identity/spiffe-id.js'

export const ISTIO_ALPN = ['istio-http/1.1', 'istio-h2', 'istio'] as const
const SERVER_ALPN = [...ISTIO_ALPN, 'h2', 'http/1.1']

export const SidecarErrorCode = {
  upstreamTls: 'SIDECAR_UPSTREAM_TLS_FAILED',
  configInvalid: 'SIDECAR_CONFIG_INVALID',
  noConfig: 'SIDECAR_NO_CONFIG',
  plaintextRefused: 'SIDECAR_PLAINTEXT_REFUSED',
  peerRefused: 'SIDECAR_PEER_REFUSED',
} as const

/** TLS records start with content type 22 (handshake): the first byte of a ClientHello. */
export function isTlsClientHello(first: Buffer): boolean {
  return first.length > 0 && first[0] === 0x16
}

export function serverContextOptions(cert: WorkloadCertificate): tls.TlsOptions {
  return { ...serverTlsOptions(cert), ALPNProtocols: SERVER_ALPN }
}

/**
 * Node cannot send a TCP RST under TLS: `resetAndDestroy()` throws ERR_INVALID_HANDLE_TYPE on a
 * TLSWrap handle, and the one pipe (src/net/pipe.ts) resets net.Sockets that way. On our TLS
 * sockets a reset is therefore a destroy (the peer sees the connection end without close_notify,
 * which its TLS layer reports as an error, as it would a reset).
 */
export function resetAsDestroy(socket: tls.TLSSocket): tls.TLSSocket {
  socket.resetAndDestroy = function resetAndDestroy(this: tls.TLSSocket) {
    return this.destroy()
  }
  return socket
}

/** A mutual TLS connection to a peer sidecar; resolves once the handshake verified `expected`. */
export function connectMtls(options: {
  cert: WorkloadCertificate
  host: string
  port: number
  expected: SpiffeId
  connectTimeoutMs: number
}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...clientTlsOptions(options.cert, [options.expected]),
      host: options.host,
      port: options.port,
      ALPNProtocols: [...ISTIO_ALPN],
    })
    // tls.connect ignores `noDelay`: without this, Nagle holds a small record (a response's body
    // after its head) until the peer's delayed ACK, up to 40 ms on Linux.
    socket.setNoDelay(true)
    const timer = setTimeout(
      () => socket.destroy(new Error(`connect timeout after ${options.connectTimeoutMs} ms`)),
      options.connectTimeoutMs,
    )
    const fail = (err: Error): void => {
      clearTimeout(timer)
      reject(
        new AmbientError(
          SidecarErrorCode.upstreamTls,
          `mTLS to ${options.host}:${options.port} (${options.expected.toString()}) failed: ${err.message}`,
          { side: 'upstream', cause: err },
        ),
      )
    }
    socket.once('error', fail)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      socket.off('error', fail)
      resolve(resetAsDestroy(socket))
    })
  })
}
