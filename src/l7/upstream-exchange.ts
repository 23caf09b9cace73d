// One HTTP exchange on an upstream connection the pool handed out: what an exchange is (request,
// response, signal, `done`), and HTTP/2 as a stream of the connection's session (HTTP/1.1 is
// ./http1-upstream.ts, our own codec on the connection). A reset or close before a complete
// response is `WAYPOINT_UPSTREAM_RESET` (UC), keeping the cause; an abort (timeout, retry) resets
// this exchange only, with the signal's reason, and so does the downstream going away (`cancel`). `done` runs once the
// exchange no longer holds the connection (response consumed, or failed).
import http2 from 'node:http2'
import type { ClientHttp2Session, IncomingHttpHeaders as Http2IncomingHeaders, OutgoingHttpHeaders } from 'node:http2'
import type { Readable } from 'node:stream'
import { AmbientError, errorMessage, isAmbientError } from '../errors.js'
import { L7ErrorCode } from './errors.js'
import { stripHopByHop, stripPseudo } from './http-headers.js'
import { canAbort, type TryCancel } from './try-signal.js'

export interface UpstreamRequest {
  readonly method: string
  readonly path: string
  /** The Host / `:authority` the app sees (the service hostname or the caller's, possibly rewritten). */
  readonly authority: string
  /** Regular headers only (no pseudo-headers, no hop-by-hop). */
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  readonly body: Buffer
  /** The downstream request's headers when our HTTP/1.1 codec parsed them (Http1Request.validated). */
  readonly validated?: Readonly<Record<string, string | readonly string[] | undefined>> | undefined
}

export interface UpstreamResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  /**
   * The headers as our HTTP/1.1 codec parsed them (and so checked them), of which `headers` is this
   * object or a copy: a value the same as its entry here needs no second check downstream. Absent for HTTP/2.
   */
  readonly validated?: Readonly<Record<string, string | readonly string[]>>
  readonly body: Readable
  /** Trailers, once `body` ended (empty when none). */
  trailers(): Readonly<Record<string, string | readonly string[]>>
  /** Drops the rest of the response (a retried or abandoned try). */
  discard(): void
  /**
   * The whole body as one Buffer when it is already read and nothing read `body` yet (HTTP/1.1: a
   * response complete in the read that brought its head); taking it ends the exchange. Null otherwise:
   * read `body`. Absent where there is no such shortcut (HTTP/2).
   */
  takeBody?(): Buffer | null
}

export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted')
}

export function resetError(err: unknown): AmbientError {
  if (isAmbientError(err) && err.code === L7ErrorCode.upstreamConnectFailed) return err
  return new AmbientError(L7ErrorCode.upstreamReset, `upstream reset: ${errorMessage(err)}`, { side: 'upstream', cause: err })
}

/** One exchange's inputs: the request, the signal that aborts it, and `done` (see the top of this file). */
export interface UpstreamExchange {
  readonly request: UpstreamRequest
  readonly signal: AbortSignal
  readonly done: () => void
  /** The request's downstream side: the exchange registers its reset there while it runs. Null: none (a mirror). */
  readonly cancel: TryCancel | null
}

type Settle = (resolve: (response: UpstreamResponse) => void, reject: (err: Error) => void) => void

/** Why an exchange is not made: its signal fired, or its downstream went away (while it waited for a connection). Else null. */
export function notStarted(signal: AbortSignal, cancel: TryCancel | null): Error | null {
  if (signal.aborted) return abortReason(signal)
  if (cancel !== null && cancel.downstreamGone)
    return new AmbientError(L7ErrorCode.downstreamGone, 'the downstream went away before the request was sent', { side: 'downstream' })
  return null
}

/** The response of an exchange `run` settles; one that is not to start (notStarted) fails without running. */
function exchange(signal: AbortSignal, cancel: TryCancel | null, run: Settle): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const stop = notStarted(signal, cancel)
    if (stop !== null) reject(stop)
    else run(resolve, reject)
  })
}

export function sendH2(session: ClientHttp2Session, { request, signal, done, cancel }: UpstreamExchange): Promise<UpstreamResponse> {
  return exchange(signal, cancel, (resolve, reject) => {
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
    if (cancel !== null) cancel.resetTry = onAbort
    stream.once('close', () => {
      if (abortable) signal.removeEventListener('abort', onAbort)
      if (cancel !== null && cancel.resetTry === onAbort) cancel.resetTry = null
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

/** A copy node:http2 may own; multi-value headers are shared (it does not change them). */
function toMutable(headers: Readonly<Record<string, string | readonly string[]>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const k in headers) out[k] = headers[k] as string | string[]
  return out
}
