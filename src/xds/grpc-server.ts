// istiod's gRPC listener (15012): one TLS server carrying any number of services (Delta ADS and
// the CA), on node:http2 with our own framing (./grpc-server-call.ts): the bodies the Delta ADS
// server shares between clients go into each stream as they are, with no gRPC library's copy.
// Clients authenticate with bearer tokens, so a client certificate is not required: a node proxy
// has none before the CA has signed one (Istio's 15012 works the same way).
//
// Requests that are not a gRPC call we serve get a trailers-only status before any handler runs
// (./grpc-request-check.ts): unknown method, not POST, not application/grpc, a compressed encoding →
// UNIMPLEMENTED. A request message over the receive limit ends its call RESOURCE_EXHAUSTED.
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import { isIP } from 'node:net'
import { AmbientError } from '../errors.js'
import { XdsErrorCode } from './errors.js'
import { GrpcCode } from './grpc/codes.js'
import type { GrpcFields } from './grpc/status.js'
import { checkGrpcRequest } from './grpc-request-check.js'
import { startServerCall, statusFields, type GrpcServerCall } from './grpc-server-call.js'
import { PACED_AHEAD_BYTES } from './stream-pacer.js'
import { toGrpcStatus } from './grpc-status.js'

export type { GrpcServerCall } from './grpc-server-call.js'

export interface GrpcServerTls {
  /** The mesh root: the trust anchor offered to clients that present a certificate. */
  readonly rootCertPem: string
  /** The server's chain, leaf first (PEM). */
  readonly certChainPem: string
  readonly keyPem: string
}

/** A unary method: one request message in, one response out; a rejection is sent as toGrpcStatus(err). */
export interface GrpcUnaryMethod {
  readonly kind: 'unary'
  handle(request: Buffer, call: GrpcServerCall): Promise<Uint8Array>
}

/** A streaming method: the handler owns the call (reads, writes, ends it). */
export interface GrpcStreamMethod {
  readonly kind: 'stream'
  handle(call: GrpcServerCall): void
}

export type GrpcMethod = GrpcUnaryMethod | GrpcStreamMethod

/** A service to serve: its methods by path, and what to do before the server stops. */
export interface GrpcServiceBinding {
  /** `/package.Service/Method` → its handler. */
  readonly methods: Readonly<Record<string, GrpcMethod>>
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
  /** The largest request message accepted (RESOURCE_EXHAUSTED beyond). Default 200 MiB, as the proxies' ADS limit. */
  readonly maxReceiveMessageBytes?: number
  /** Per stream, response bytes written ahead of the socket (./stream-pacer.ts). Default PACED_AHEAD_BYTES. */
  readonly paceAheadBytes?: number
}

export interface GrpcServer {
  readonly host: string
  readonly port: number
  /** `host:port` for clients (IPv6 bracketed). */
  readonly target: string
  close(): Promise<void>
}

export const DEFAULT_XDS_PORT = 15012
export const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 200 * 1024 * 1024

/**
 * HTTP/2 receive windows of the server: a reconnecting proxy's first request lists every version it
 * holds (initial_resource_versions, ~1 MB at 10,000 resources); let it arrive without a
 * WINDOW_UPDATE every 64 KiB. (What the server sends is paced by the client's windows.)
 */
export const SERVER_STREAM_WINDOW_BYTES = 4 * 1024 * 1024
export const SERVER_SESSION_WINDOW_BYTES = 8 * 1024 * 1024
/** node:http2's per-session memory cap (MB) counts the responses queued for a client: a sync's are megabytes. */
const MAX_SESSION_MEMORY_MB = 512

const hostPort = (host: string, port: number) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`)

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const host = options.host ?? '127.0.0.1'
  const wanted = options.port ?? DEFAULT_XDS_PORT
  const methods = new Map<string, GrpcMethod>()
  for (const s of options.services) for (const [path, m] of Object.entries(s.methods)) methods.set(path, m)
  const maxReceiveBytes = options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_BYTES
  const paceAheadBytes = options.paceAheadBytes ?? PACED_AHEAD_BYTES
  const server: Http2SecureServer = createSecureServer({
    key: options.tls.keyPem,
    cert: options.tls.certChainPem,
    ca: options.tls.rootCertPem,
    requestCert: false,
    ALPNProtocols: ['h2'],
    allowHTTP1: false,
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    settings: { initialWindowSize: SERVER_STREAM_WINDOW_BYTES },
  })
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', (session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
    session.on('error', () => undefined) // its streams end with it
    session.once('localSettings', () => {
      if (!session.destroyed) session.setLocalWindowSize(SERVER_SESSION_WINDOW_BYTES)
    })
  })
  server.on('stream', (stream, headers) => dispatch(stream, headers))

  function dispatch(stream: ServerHttp2Stream, headers: GrpcFields): void {
    const verdict = checkGrpcRequest(headers, (path) => methods.has(path))
    if (!verdict.ok) {
      stream.on('error', () => undefined)
      stream.respond(
        { ':status': verdict.httpStatus, 'content-type': 'application/grpc', ...statusFields(verdict.status) },
        { endStream: true },
      )
      stream.resume() // whatever the client still sends is read and dropped
      return
    }
    const socket = stream.session?.socket
    const peer = socket?.remoteAddress === undefined ? 'unknown' : hostPort(socket.remoteAddress, socket.remotePort ?? 0)
    const call = startServerCall(stream, headers, {
      path: verdict.path,
      peer,
      maxReceiveBytes,
      timeoutMs: verdict.timeoutMs,
      paceAheadBytes,
    })
    const method = methods.get(verdict.path)!
    if (method.kind === 'stream') method.handle(call)
    else serveUnary(method, call)
  }

  const port = await new Promise<number>((resolve, reject) => {
    const failed = (err: Error) =>
      reject(
        new AmbientError(XdsErrorCode.unavailable, `cannot listen on ${hostPort(host, wanted)}: ${err.message}`, {
          side: 'internal',
          cause: err,
        }),
      )
    server.once('error', failed)
    server.listen(wanted, host, () => {
      server.off('error', failed)
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : wanted)
    })
  })
  let closing: Promise<void> | undefined
  return {
    host,
    port,
    target: hostPort(host, port),
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of options.services) s.close?.()
        const force = setTimeout(() => {
          for (const s of sessions) s.destroy()
        }, options.shutdownGraceMs ?? 1000)
        force.unref()
        server.close(() => {
          clearTimeout(force)
          resolve()
        })
        for (const s of sessions) s.close() // GOAWAY: no new calls; open ones may finish
      })
      return closing
    },
  }
}

/** A unary call: exactly one request message, then the handler's response or its error's status. */
function serveUnary(method: GrpcUnaryMethod, call: GrpcServerCall): void {
  let request: Buffer | undefined
  let count = 0
  call.read({
    onMessage(bytes) {
      request = bytes
      count++
    },
    onHalfClose() {
      if (count !== 1 || request === undefined) {
        const details = `a unary call takes one request message, got ${count}`
        return call.end({ code: GrpcCode.UNIMPLEMENTED, details })
      }
      method.handle(request, call).then(
        (response) => {
          if (!call.write(response)) return
          call.end({ code: GrpcCode.OK, details: '' })
        },
        (err: unknown) => call.end(toGrpcStatus(err)),
      )
    },
  })
}
