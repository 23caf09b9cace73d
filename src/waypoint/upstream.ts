// The waypoint's upstream side: HTTP connections to endpoints, each one an HBONE tunnel opened as the
// waypoint (`<endpoint IP>:15008`, `:authority <endpoint IP>:<target port>`, the endpoint's identity
// expected) or a plain TCP leg for endpoints outside the mesh (tunnelProtocol NONE).
//
// Invariants:
// 1. Connections are kept per (endpoint address, target port, identity, HTTP version) and reused:
//    HTTP/1.1 through a keep-alive agent (one request at a time per tunnel, at most
//    `maxConnections` tunnels), HTTP/2 on one multiplexed session per endpoint. The tunnels
//    themselves share HBONE connections through the one HbonePool.
// 2. A failure to open the tunnel is `WAYPOINT_UPSTREAM_CONNECT_FAILED` (Envoy UF); a reset or close
//    after the request went out is `WAYPOINT_UPSTREAM_RESET` (UC); both keep the cause.
// 3. Aborting a try (timeout, retry, downstream gone) resets that exchange only; the session or
//    other keep-alive tunnels are untouched.
import http from 'node:http'
import http2 from 'node:http2'
import type { ClientHttp2Session, IncomingHttpHeaders as Http2IncomingHeaders, OutgoingHttpHeaders } from 'node:http2'
import type { Duplex, Readable } from 'node:stream'
import { AmbientError, errorMessage, isAmbientError } from '../errors.js'
import type { HbonePool } from '../hbone/pool.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { SpiffeId as SpiffeIdClass } from '../identity/spiffe-id.js'
import type { Endpoint } from '../mesh/waypoint-config.js'
import { formatHostPort } from '../net/address.js'
import { connectTcp } from '../net/listen.js'
import type { Logger } from '../observability/logger.js'
import { WaypointErrorCode } from './errors.js'
import { StreamSocket } from './stream-socket.js'

export type UpstreamHttpVersion = 'http1' | 'h2'

export interface UpstreamRequest {
  readonly method: string
  readonly path: string
  /** The Host / `:authority` the app sees (the service hostname or the caller's, possibly rewritten). */
  readonly authority: string
  /** Regular headers only (no pseudo-headers, no hop-by-hop). */
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  readonly body: Buffer
}

export interface UpstreamResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  readonly body: Readable
  /** Trailers, once `body` ended (empty when none). */
  trailers(): Readonly<Record<string, string | readonly string[]>>
  /** Drops the rest of the response (a retried or abandoned try). */
  discard(): void
}

export interface UpstreamOptions {
  readonly hbone: HbonePool
  readonly source: () => SpiffeId
  readonly logger: Logger
  readonly connectTimeoutMs: () => number
}

export interface UpstreamConnections {
  send(endpoint: Endpoint, version: UpstreamHttpVersion, request: UpstreamRequest, signal: AbortSignal, maxConnections: number): Promise<UpstreamResponse>
  /** A raw leg to the endpoint's app port, not pooled (TCP proxying). */
  openTransport(endpoint: Endpoint): Promise<Duplex>
  close(): Promise<void>
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones HTTP/2 forbids; never forwarded either way.
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings'])

export function createUpstreamConnections(options: UpstreamOptions): UpstreamConnections {
  const log = options.logger
  const agents = new Map<string, http.Agent>()
  const sessions = new Map<string, Promise<ClientHttp2Session>>()
  let closed = false

  const keyOf = (ep: Endpoint): string => `${formatHostPort(ep.address, ep.targetPort)}|${ep.identity}|${ep.tunnelProtocol}`

  // One tunnel (or TCP leg) to the endpoint's app port.
  const openTransport = async (ep: Endpoint): Promise<Duplex> => {
    const where = formatHostPort(ep.address, ep.targetPort)
    try {
      if (ep.tunnelProtocol === 'NONE') return await connectTcp({ host: ep.address, port: ep.targetPort, connectTimeoutMs: options.connectTimeoutMs() })
      const tunnel = await options.hbone.open({
        source: options.source(),
        destination: { host: ep.address, port: ep.hbonePort },
        expectedIdentities: [SpiffeIdClass.parse(ep.identity)],
        authority: { ip: ep.address, port: ep.targetPort },
      })
      tunnel.stream.on('error', () => undefined) // reported through the StreamSocket
      return new StreamSocket(tunnel.stream)
    } catch (err) {
      throw new AmbientError(WaypointErrorCode.upstreamConnectFailed, `upstream connect to ${where} failed: ${errorMessage(err)}`, { side: 'upstream', cause: err })
    }
  }

  const agentFor = (ep: Endpoint, maxConnections: number): http.Agent => {
    const key = keyOf(ep)
    let agent = agents.get(key)
    if (agent) return agent
    agent = new TunnelAgent(() => openTransport(ep), { keepAlive: true, maxSockets: Math.max(1, Math.min(maxConnections, 1_000_000)) })
    agents.set(key, agent)
    return agent
  }

  const sessionFor = (ep: Endpoint): Promise<ClientHttp2Session> => {
    const key = keyOf(ep)
    const existing = sessions.get(key)
    if (existing) return existing
    const created = openTransport(ep).then((transport) => {
      const session = http2.connect(`http://${formatHostPort(ep.address, ep.targetPort)}`, { createConnection: () => transport })
      const forget = (): void => {
        if (sessions.get(key) === created) sessions.delete(key)
      }
      session.on('error', (err) => log.debug({ event: 'upstream_session_error', endpoint: key, reason: errorMessage(err) }, 'upstream h2 session error'))
      session.on('goaway', forget)
      session.on('close', forget)
      return session
    })
    created.catch(() => sessions.delete(key))
    sessions.set(key, created)
    return created
  }

  return {
    openTransport,
    async send(ep, version, request, signal, maxConnections) {
      if (closed) throw new AmbientError(WaypointErrorCode.upstreamConnectFailed, 'waypoint closing', { side: 'internal' })
      return version === 'h2'
        ? sendH2(await sessionFor(ep), request, signal)
        : sendHttp1(agentFor(ep, maxConnections), ep, request, signal)
    },
    async close() {
      closed = true
      for (const agent of agents.values()) agent.destroy()
      agents.clear()
      const pending = [...sessions.values()]
      sessions.clear()
      await Promise.all(pending.map(async (p) => {
        const session = await p.catch(() => undefined)
        session?.destroy()
      }))
    },
  }
}

/** node:http's keep-alive agent over tunnels: the connection is created asynchronously. */
class TunnelAgent extends http.Agent {
  private readonly open: () => Promise<Duplex>

  constructor(open: () => Promise<Duplex>, options: http.AgentOptions) {
    super(options)
    this.open = open
  }

  override createConnection(_options: unknown, callback: (err: Error | null, socket?: Duplex) => void): undefined {
    this.open().then((socket) => callback(null, socket), (err: Error) => callback(err))
    return undefined
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted')
}

function resetError(err: unknown): AmbientError {
  if (isAmbientError(err) && err.code === WaypointErrorCode.upstreamConnectFailed) return err
  return new AmbientError(WaypointErrorCode.upstreamReset, `upstream reset: ${errorMessage(err)}`, { side: 'upstream', cause: err })
}

function sendHttp1(agent: http.Agent, ep: Endpoint, request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const headers: Record<string, string | string[]> = { ...toMutable(request.headers), host: request.authority }
    if (request.body.length > 0 || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(request.method)) headers['content-length'] = String(request.body.length)
    const req = http.request({ agent, host: ep.address, port: ep.targetPort, method: request.method, path: request.path, headers })
    const onAbort = (): void => {
      req.destroy(abortReason(signal))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err) => {
      signal.removeEventListener('abort', onAbort)
      reject(signal.aborted ? abortReason(signal) : resetError(err))
    })
    req.on('response', (res) => {
      res.on('error', () => undefined) // an abort mid-body is the caller's (it aborted)
      signal.removeEventListener('abort', onAbort)
      const again = (): void => { res.destroy(abortReason(signal)) }
      signal.addEventListener('abort', again, { once: true })
      res.once('close', () => signal.removeEventListener('abort', again))
      resolve({
        status: res.statusCode ?? 502,
        headers: stripHopByHop(res.headers as Record<string, string | string[] | undefined>),
        body: res,
        trailers: () => res.trailers as Record<string, string>,
        discard: () => res.destroy(),
      })
    })
    req.end(request.body)
  })
}

function sendH2(session: ClientHttp2Session, request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const headers: OutgoingHttpHeaders = {
      ...toMutable(request.headers),
      ':method': request.method, ':path': request.path, ':authority': request.authority, ':scheme': 'http',
    }
    let stream: http2.ClientHttp2Stream
    try {
      stream = session.request(headers, { endStream: request.body.length === 0 })
    } catch (err) {
      return reject(resetError(err))
    }
    let trailers: Record<string, string | string[]> = {}
    stream.on('trailers', (t: Http2IncomingHeaders) => { trailers = stripPseudo(t) })
    const onAbort = (): void => {
      stream.close(http2.constants.NGHTTP2_CANCEL)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    stream.once('close', () => signal.removeEventListener('abort', onAbort))
    let answered = false
    stream.on('error', (err) => {
      if (!answered) reject(signal.aborted ? abortReason(signal) : resetError(err))
    })
    stream.once('close', () => {
      if (!answered) reject(signal.aborted ? abortReason(signal) : resetError(new Error(`stream closed (code ${stream.rstCode ?? 0})`)))
    })
    stream.on('response', (h: Http2IncomingHeaders) => {
      answered = true
      resolve({
        status: Number(h[':status'] ?? 502),
        headers: stripHopByHop(stripPseudo(h)),
        body: stream,
        trailers: () => trailers,
        discard: () => stream.close(http2.constants.NGHTTP2_CANCEL),
      })
    })
    if (request.body.length > 0) stream.end(request.body)
  })
}

function toMutable(headers: Readonly<Record<string, string | readonly string[]>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) out[k] = typeof v === 'string' ? v : [...v]
  return out
}

export function stripPseudo(headers: Readonly<Record<string, string | string[] | number | undefined>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(':') || v === undefined) continue
    out[k] = typeof v === 'number' ? String(v) : v
  }
  return out
}

export function stripHopByHop(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string | string[]> {
  const listed = new Set(String(headers.connection ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k)) continue
    out[k] = v
  }
  return out
}
