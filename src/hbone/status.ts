// What the inbound side decided about a CONNECT, and the one place that turns it into an HTTP status
// (Istio's HBONE contract: 200 accept, 400 bad request, 401 denied by policy, 503 unavailable).
import type { ServerHttp2Stream } from 'node:http2'
import type { AmbientError } from '../errors.js'
import { assertNever } from '../errors.js'

export type ConnectOutcome =
  /**
   * 200. The server answers, then hands the tunnel to `serve`: from then on the stream is the
   * caller's (pipe it, or terminate it as a waypoint does). If the client went away while the
   * caller decided, `cancel` is called instead, so the caller releases what it opened.
   */
  | { readonly kind: 'accept'; readonly serve: (stream: ServerHttp2Stream) => void; readonly cancel: (reason: AmbientError) => void }
  /** 400: not CONNECT, bad `:authority`, authority IP is not this pod's (`ip mismatch: A != B`). */
  | { readonly kind: 'bad-request'; readonly reason: string }
  /** 401: denied by authorization policy. */
  | { readonly kind: 'denied'; readonly reason: string }
  /** 503: unknown local workload, port not resolvable, illegal port, the app refused. */
  | { readonly kind: 'unavailable'; readonly reason: string }

export type ConnectOutcomeKind = ConnectOutcome['kind']

export function statusForOutcome(outcome: Pick<ConnectOutcome, 'kind'>): 200 | 400 | 401 | 503 {
  const kind = outcome.kind
  switch (kind) {
    case 'accept':
      return 200
    case 'bad-request':
      return 400
    case 'denied':
      return 401
    case 'unavailable':
      return 503
    default:
      return assertNever(kind, 'connect outcome')
  }
}
