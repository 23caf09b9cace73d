// One HTTP exchange on an upstream connection the pool handed out: HTTP/1.1 as node:http's client on
// the connection itself (no agent, see takeBack), HTTP/2 as a stream of the connection's session. A reset or close before a
// complete response is `WAYPOINT_UPSTREAM_RESET` (UC), keeping the cause; an abort (timeout, retry,
// downstream gone) resets this exchange only, with the signal's reason. `done` runs once the
// exchange no longer holds the connection (response consumed, or failed).
import http from 'node:http'
import http2 from 'node:http2'
import type { ClientHttp2Session, IncomingHttpHeaders as Http2IncomingHeaders, OutgoingHttpHeaders } from 'node:http2'
import type { Duplex, Readable } from 'node:stream'
import { AmbientError, errorMessage, isAmbientError } from '../errors.js'
import type { Endpoint } from '../mesh/waypoint-config.js'
import { L7ErrorCode } from './errors.js'
import { stripHopByHop, stripPseudo } from './http-headers.js'
import { canAbort } from './try-signal.js'

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

/**
 * Whether a 'free' on an HTTP/1.1 socket hands it back after a finished exchange. node:http in Node
 * 20 sometimes releases a keep-alive socket twice (nodejs/node#60001, fixed upstream by
 * nodejs/node#61710): when a response ends after the request's bytes left the socket but before
 * the request's 'finish', both responseOnEnd and requestOnFinish release it. The first release
 * carries the finished request (its response complete); the second finds the socket already handed
 * back (no request) or carrying the next request (response not complete). Taking the second would
 * mark a busy connection idle (or, with node:http's agent, destroy the kept-alive socket), so
 * ~5 % of requests waited for a new tunnel in bench:waypoint (~50 tunnels/s at 1000 RPS, the
 * waypoint hop's p99 +17 ms).
 */
export function isFinishedRelease(socket: unknown): boolean {
  const req = (socket as { _httpMessage?: { res?: { complete?: boolean } | null } | null } | null)?._httpMessage
  return req?.res?.complete === true
}

/**
 * node:http's client runs with no agent here: each request gets the pool's connection through
 * `createConnection` (an agent over one socket cost ≈ 7 % of the waypoint's CPU at 1000 RPS: its
 * request queue, name keys and free list repeat the pool's own bookkeeping). A 'free' on the socket
 * is node:http handing it back; this says whether the socket can carry another request, refusing a
 * duplicate release (see isFinishedRelease), and, as an agent does on taking a socket back, drops the
 * socket's reference to the finished request, so that a late duplicate finds none.
 */
export function takeBack(socket: Duplex): boolean {
  if (!isFinishedRelease(socket)) return false
  ;(socket as { _httpMessage?: unknown })._httpMessage = null
  return true
}

export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted')
}

function resetError(err: unknown): AmbientError {
  if (isAmbientError(err) && err.code === L7ErrorCode.upstreamConnectFailed) return err
  return new AmbientError(L7ErrorCode.upstreamReset, `upstream reset: ${errorMessage(err)}`, { side: 'upstream', cause: err })
}

/** One exchange's inputs: the request, the signal that aborts it, and `done` (see the top of this file). */
export interface UpstreamExchange {
  readonly request: UpstreamRequest
  readonly signal: AbortSignal
  readonly done: () => void
}

type Settle = (resolve: (response: UpstreamResponse) => void, reject: (err: Error) => void) => void

/** The response of an exchange `run` settles; one whose signal already fired fails with its reason without running. */
function exchange(signal: AbortSignal, run: Settle): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) reject(abortReason(signal))
    else run(resolve, reject)
  })
}

export function sendHttp1(socket: Duplex, ep: Endpoint, { request, signal, done }: UpstreamExchange): Promise<UpstreamResponse> {
  return exchange(signal, (resolve, reject) => {
    const headers = toMutable(request.headers)
    headers.host = request.authority
    if (request.body.length > 0 || !BODYLESS_METHODS.has(request.method)) headers['content-length'] = String(request.body.length)
    // Without an agent node:http would ask for `Connection: close`; the pool keeps the connection.
    headers.connection = 'keep-alive'
    const req = http.request({
      createConnection: () => socket,
      host: ep.address,
      port: ep.targetPort,
      method: request.method,
      path: request.path,
      headers,
    })
    const abortable = canAbort(signal)
    const onAbort = (): void => {
      req.destroy(abortReason(signal))
    }
    if (abortable) signal.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err) => {
      if (abortable) signal.removeEventListener('abort', onAbort)
      reject(signal.aborted ? abortReason(signal) : resetError(err))
    })
    req.on('response', (res) => {
      res.on('error', () => undefined) // an abort mid-body is the caller's (it aborted)
      res.once('end', done)
      res.once('close', done)
      if (abortable) {
        signal.removeEventListener('abort', onAbort)
        const again = (): void => {
          res.destroy(abortReason(signal))
        }
        signal.addEventListener('abort', again, { once: true })
        res.once('close', () => signal.removeEventListener('abort', again))
      }
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

export function sendH2(session: ClientHttp2Session, { request, signal, done }: UpstreamExchange): Promise<UpstreamResponse> {
  return exchange(signal, (resolve, reject) => {
    const headers: OutgoingHttpHeaders = {
      ...toMutable(request.headers),
      ':method': request.method,
      ':path': request.path,
      ':authority': request.authority,
      ':scheme': 'http',
    }
    let stream: http2.ClientHttp2Stream
    try {
      stream = session.request(headers, { endStream: request.body.length === 0 })
    } catch (err) {
      reject(resetError(err))
      return
    }
    let trailers: Record<string, string | string[]> = {}
    stream.on('trailers', (t: Http2IncomingHeaders) => {
      trailers = stripPseudo(t)
    })
    const abortable = canAbort(signal)
    const onAbort = (): void => {
      stream.close(http2.constants.NGHTTP2_CANCEL)
    }
    if (abortable) signal.addEventListener('abort', onAbort, { once: true })
    stream.once('close', () => {
      if (abortable) signal.removeEventListener('abort', onAbort)
      done()
    })
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

/** Methods sent without `content-length` when their body is empty. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS'])

/** A copy node:http and node:http2 may own; multi-value headers are shared (neither changes them). */
function toMutable(headers: Readonly<Record<string, string | readonly string[]>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const k in headers) out[k] = headers[k] as string | string[]
  return out
}
