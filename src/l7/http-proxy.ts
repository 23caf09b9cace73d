// One HTTP request through the waypoint, in Envoy's filter order:
//   L7 authorization (403 `RBAC: access denied`) → route match (404 NR) → redirect / direct response
//   → fault (delay DI, abort FI) → mirrors (fire and forget) → weighted destination → cluster →
//   tries: endpoint (load balancer over healthy, non-ejected; 503 UH) → the cluster's connection
//   pool, whose circuit breaker attaches, queues or refuses the try (503 UO) → upstream exchange
//   with per-try timeout, route deadline (504 UT) and retries under the retry budget (URX, UO)
//   → response with header operations. Every decision is a pure engine's (l7-engines.ts).
// Each request ends in exactly one record (metrics with reporter="waypoint" and a debug log line),
// however it ends.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Duplex } from 'node:stream'
import { Http1ServerRequest, Http1ServerResponse } from './http1-downstream.js'
import { Http1ErrorCode } from './http1-codec.js'
import { AmbientError, errorCode, errorMessage, isAmbientError } from '../errors.js'
import type { Endpoint, HttpRoute, ServedService, UpstreamCluster, WaypointConfig, WaypointTelemetry } from '../mesh/waypoint-config.js'
import { unlimitedConnectionPool } from '../mesh/waypoint-config.js'
import { formatAuthority, formatHostPort, type SocketAddress } from '../net/address.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { isSampled, type RandomBytes } from '../observability/trace-context.js'
import { formatResponseFlags, orderedResponseFlags, type FlowPeer, type HttpResponseFlag } from '../observability/traffic-labels.js'
import type { PeerCertificate } from '../hbone/tls.js'
import type { Random } from '../random.js'
import { L7ErrorCode } from './errors.js'
import type { AttemptOutcome } from './engines.js'
import {
  applicablePolicies,
  authorizeRequestVerdict,
  decideFault,
  decideMirrors,
  decideRetry,
  matchRoute,
  planTimeouts,
  retryPolicyFor,
  changesRequest,
  changesResponse,
  mutateRequest,
  mutateResponseHeaders,
  pickDestination,
} from './engines.js'
import { workloadEndpoint, type ServedDestination } from './served-destination.js'
import { destinationPeer, endpointDestinationPeer, recordWaypointRequest, type RequestReporter } from './telemetry.js'
import { hopSpan, traceHop, writeTraceHeaders, type HopTrace } from './tracing.js'
import { writeAccessLog } from './access-log.js'
import type { SpanSink } from './zipkin.js'
import type { UpstreamConnections } from './upstream.js'
import type { UpstreamRequest, UpstreamResponse } from './upstream-exchange.js'
import type { PoolCluster, UpstreamHttpVersion } from './upstream-pool.js'
import { forwardableHeaders, stripHopByHop } from './http-headers.js'
import type { UpstreamState } from './upstream-state.js'
import { timeoutSignal, TryTimers } from './try-signal.js'

/** Request bodies are buffered (retries and mirrors resend them); larger ones get 413. */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024 * 1024
/** A request's response flags when it has none (most requests): one shared empty list. */
const NO_FLAGS: readonly HttpResponseFlag[] = Object.freeze([])
/** Mirrors without a route timeout give up after this (their replies are dropped anyway). */
const MIRROR_TIMEOUT_MS = 30_000

// What the engine reads of a request and calls on a response: the part of node:http's and
// node:http2's server objects it uses, which our HTTP/1.x codec's (./http1-downstream.ts) also have,
// so the engine does not care which parser fed it.
export interface DownstreamRequest {
  readonly method?: string | undefined
  readonly url?: string | undefined
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  on(event: 'data', listener: (chunk: Buffer) => void): unknown
  on(event: 'end' | 'close', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- node's own listener type
  off(event: string, listener: (...args: any[]) => void): unknown
  destroy(err?: Error): unknown
  /** The whole body when it arrived with the head (our HTTP/1.1 codec): no stream to read. Else null. */
  takeBody?(): Buffer | null
}
export interface DownstreamResponse {
  readonly headersSent: boolean
  readonly writableFinished: boolean
  writeHead(status: number, headers?: Record<string, string | string[]>): unknown
  write(chunk: Buffer): boolean
  end(): unknown
  end(chunk: Buffer | string): unknown
  addTrailers(trailers: Record<string, string>): void
  on(event: 'close' | 'drain', listener: () => void): unknown
  once(event: 'close' | 'drain', listener: () => void): unknown
}
/** The request objects that implement DownstreamRequest. */
export type DownstreamRequestObject = IncomingMessage | Http2ServerRequest | Http1ServerRequest
export type DownstreamResponseObject = ServerResponse | Http2ServerResponse | Http1ServerResponse

/** What the tunnel told us, fixed for every request on it. */
export interface TunnelContext {
  readonly config: WaypointConfig
  readonly destination: ServedDestination
  /** The `:authority` of the CONNECT, parsed. */
  readonly target: SocketAddress
  readonly peer: PeerCertificate
  readonly source: FlowPeer
  readonly sourceIp: string
  readonly downstream: UpstreamHttpVersion
}

export interface HttpProxyDeps {
  readonly upstream: UpstreamConnections
  readonly state: UpstreamState
  readonly metrics: Metrics
  readonly logger: Logger
  readonly random: Random
  readonly now: () => number
  readonly newRequestId: () => string
  readonly randomBytes?: RandomBytes
  /** Who reports the request metrics: `waypoint` (default), or a sidecar's `source` / `destination`. */
  readonly reporter?: RequestReporter
  /** Where sampled spans go when the config's `telemetry.tracing` is set; none → not reported. */
  readonly spans?: SpanSink
  /**
   * The telemetry of the waypoint's current config (a Telemetry change reaches requests on tunnels
   * opened before it); default the tunnel's config's.
   */
  readonly telemetry?: () => WaypointTelemetry | undefined
  /** Headers added to every request sent upstream, over the caller's (a sidecar's metadata exchange). */
  readonly requestHeaders?: () => Readonly<Record<string, string>>
}

interface Reply {
  status: number
  headers: Record<string, string | string[]>
  body: Buffer | UpstreamResponse
  flags: Set<HttpResponseFlag>
  endpoint?: Endpoint
  service?: { name: string; namespace: string; hostname: string }
  reason?: string
  upstreamCluster?: string
}

export async function handleHttpRequest(
  deps: HttpProxyDeps,
  ctx: TunnelContext,
  req: DownstreamRequest,
  res: DownstreamResponse,
): Promise<void> {
  const startedMs = deps.now()
  const headersIn = req.headers as Record<string, string | string[] | undefined>
  const method = req.method ?? 'GET'
  const path = (ctx.downstream === 'h2' ? (headersIn[':path'] as string | undefined) : req.url) ?? '/'
  const authority =
    (ctx.downstream === 'h2' ? (headersIn[':authority'] as string | undefined) : (headersIn.host as string | undefined)) ??
    formatAuthority(ctx.target)
  const isGrpc = String(headersIn['content-type'] ?? '').startsWith('application/grpc')
  // Headers our codec parsed, and so checked: what is forwarded unchanged is not checked again.
  const validated = req instanceof Http1ServerRequest ? headersIn : undefined
  const telemetry = deps.telemetry === undefined ? ctx.config.telemetry : deps.telemetry()
  const tracing = telemetry?.tracing ?? null
  const trace = traceHop(headersIn, deps, tracing === null ? null : tracing.samplingPercent)
  let requestBytes = 0
  let reply: Reply
  const timers = new TryTimers()
  // The one listener a request adds for its downstream: going away before the answer resets the try.
  res.on('close', timers.downstreamClosed)
  try {
    // A body that came whole with its head needs no promise (nor the microtask of an await).
    const body = wholeRequestBody(req) ?? (await readRequestBody(req))
    requestBytes = body.length
    reply = await decideAndForward(deps, ctx, { method, path, authority, headersIn, validated, body, isGrpc, trace, timers })
  } catch (err) {
    reply = bodyReadFailed(err)
  }
  let responseBytes: number
  try {
    responseBytes = await writeReply(ctx, reply, res)
  } finally {
    timers.clear()
  }
  const grpcStatus = isGrpc ? grpcStatusOf(reply) : undefined
  const flags = formatResponseFlags(reply.flags)
  const durationMs = deps.now() - startedMs
  recordWaypointRequest(deps.metrics, {
    // Named, not spread: in V8 (Node 20) a spread of a non-empty object followed by more fields
    // builds the literal on a slow path, microseconds a request (a sidecar's reporter was that spread).
    reporter: deps.reporter ?? 'waypoint',
    src: ctx.source,
    dst: reply.endpoint
      ? endpointDestinationPeer(reply.endpoint, reply.service)
      : destinationPeer({ addr: formatAuthority(ctx.target), ...(reply.service ? { service: reply.service } : {}) }),
    requestProtocol: isGrpc ? 'grpc' : 'http',
    responseCode: reply.status,
    grpcStatus,
    responseFlags: reply.flags.size === 0 ? NO_FLAGS : orderedResponseFlags(reply.flags),
    durationMs,
    requestBytes,
    responseBytes,
  })
  const upstreamHost = reply.endpoint ? formatHostPort(reply.endpoint.address, reply.endpoint.targetPort) : undefined
  if (telemetry?.accessLog === true) {
    writeAccessLog(deps.logger, {
      method,
      path,
      authority,
      protocol: ctx.downstream === 'h2' ? 'HTTP/2' : 'HTTP/1.1',
      responseCode: reply.status,
      responseFlags: flags,
      durationMs,
      bytesReceived: requestBytes,
      bytesSent: responseBytes,
      upstreamHost,
      upstreamCluster: reply.upstreamCluster,
      requestId: trace.requestId,
      traceId: trace.context.traceId,
      sourcePrincipal: ctx.peer.identity.toString(),
      downstreamRemoteAddress: ctx.sourceIp,
    })
  }
  if (tracing !== null && deps.spans !== undefined && isSampled(trace.context)) {
    deps.spans.report(
      hopSpan(trace, {
        serviceName: `${ctx.config.name}.${ctx.config.namespace}`,
        method,
        path,
        authority,
        status: reply.status,
        responseFlags: flags,
        startedMs,
        durationMs,
        upstream: reply.upstreamCluster,
        requestBytes,
        responseBytes,
      }),
    )
  }
  // Built only when it is written: a request's record is the metrics above.
  if (!deps.logger.isLevelEnabled('debug')) return
  deps.logger.debug(
    {
      event: 'request_complete',
      method,
      path,
      authority,
      status: reply.status,
      response_flags: flags,
      duration: durationMs,
      'src.identity': ctx.peer.identity.toString(),
      'dst.addr': reply.endpoint ? formatHostPort(reply.endpoint.address, reply.endpoint.targetPort) : undefined,
      ...(reply.reason === undefined ? {} : { reason: reply.reason }),
    },
    'request complete',
  )
}

interface Incoming {
  readonly method: string
  readonly path: string
  readonly authority: string
  readonly headersIn: Record<string, string | string[] | undefined>
  /** headersIn when our codec parsed it (UpstreamRequest.validated). */
  readonly validated: Record<string, string | string[] | undefined> | undefined
  readonly body: Buffer
  readonly isGrpc: boolean
  readonly trace: HopTrace
  /** The deadline and per-try timeouts of this request's tries. */
  readonly timers: TryTimers
}

// The reply's service, one object per served Service (a config object, never changed in place): the
// destination peer of the metrics is kept per (endpoint, this object).
const serviceRefs = new WeakMap<ServedService, NonNullable<Reply['service']>>()

function serviceRefOf(service: ServedService): NonNullable<Reply['service']> {
  let ref = serviceRefs.get(service)
  if (ref === undefined)
    serviceRefs.set(service, (ref = Object.freeze({ name: service.name, namespace: service.namespace, hostname: service.hostname })))
  return ref
}

async function decideAndForward(deps: HttpProxyDeps, ctx: TunnelContext, inc: Incoming): Promise<Reply> {
  const { config, destination } = ctx
  const service = destination.kind === 'service' ? destination.service : undefined
  const serviceRef = service ? serviceRefOf(service) : undefined
  const withService = (r: Reply): Reply => {
    if (serviceRef !== undefined) r.service = serviceRef
    return r
  }

  // L7 authorization (engines/l7-authz): the waypoint's own policies, then the served Service's.
  // None (Istio's default): allowed with no log, as the engine would say; no facts gathered.
  const policies = applicablePolicies(config, service ?? null)
  if (policies.length > 0) {
    const port = destination.kind === 'service' ? destination.port.port : destination.port
    const identity = ctx.peer.identity
    const authz = authorizeRequestVerdict(policies, {
      method: inc.method,
      path: inc.path,
      host: inc.authority,
      headers: inc.headersIn,
      sourcePrincipal: identity.principal,
      sourceNamespace: identity.namespace,
      sourceIp: ctx.sourceIp,
      destinationIp: ctx.target.ip,
      destinationPort: port,
    })
    for (const l of authz.logs)
      deps.logger.info(
        { event: `authz_${l.kind.replace(/-/g, '_')}`, policy: `${l.policy.namespace}/${l.policy.name}`, path: inc.path },
        l.message,
      )
    if (authz.kind === 'deny') return withService(local(authz.reply.status, authz.reply.body, [authz.reply.responseFlag], authz.reason))
  }

  const headers = forwardableHeaders(inc.headersIn)
  writeTraceHeaders(headers, inc.trace)
  if (deps.requestHeaders !== undefined) Object.assign(headers, deps.requestHeaders())
  // The caller's identity for the app (Envoy's x-forwarded-client-cert is not sent in ambient).
  headers['x-forwarded-proto'] = 'http'

  if (destination.kind === 'workload') {
    // Workload-addressed traffic: no service routes; straight to that workload.
    const endpoint = workloadEndpoint(destination)
    const cluster = workloadCluster(config, endpoint)
    return forward(
      deps,
      ctx,
      cluster,
      null,
      { method: inc.method, path: inc.path, authority: inc.authority, headers, body: inc.body, validated: inc.validated },
      upstreamVersion(ctx, null),
      inc.timers,
    )
  }

  const decision = matchRoute(destination.port.routes, {
    method: inc.method,
    path: inc.path,
    authority: inc.authority,
    scheme: 'http',
    headers: inc.headersIn,
  })
  if (decision.kind === 'noRoute')
    return withService(local(decision.reply.status, decision.reply.body, [decision.reply.responseFlag], decision.reason))
  const route = decision.route
  const action = route.action
  if (action.kind === 'redirect') {
    const r = action.redirect
    const host = r.authority ?? inc.authority.replace(/:\d+$/, '')
    const location = `${r.scheme ?? 'http'}://${host}${r.port === null ? '' : `:${r.port}`}${r.path ?? inc.path}`
    return withService({ status: r.statusCode, headers: { location }, body: Buffer.alloc(0), flags: new Set() })
  }
  if (action.kind === 'directResponse')
    return withService({ status: action.status, headers: {}, body: Buffer.from(action.body ?? ''), flags: new Set() })

  const fault = decideFault(route.fault, deps.random)
  const faultFlags = fault.responseFlags
  if (fault.delayMs !== null) await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 0))
  if (fault.abort !== null) {
    const a = fault.abort
    const aborted = local(a.httpStatus, a.grpcStatus === null ? a.body : '', faultFlags, fault.reason)
    if (a.grpcStatus !== null)
      aborted.headers = { 'content-type': 'application/grpc', 'grpc-status': String(a.grpcStatus), 'grpc-message': a.body }
    return withService(aborted)
  }

  const picked = pickDestination(action.destinations, deps.random)
  if (picked.kind === 'none') return withService(local(503, 'no healthy upstream', ['UH'], picked.reason))
  const dest = picked.destination
  const cluster = config.clusters.find((c) => c.name === dest.cluster)
  if (cluster === undefined) return withService(local(503, 'no healthy upstream', ['UH'], `unknown cluster ${dest.cluster}`))

  // Nothing to rewrite (most routes): the head as it is (`headers` is this request's own copy).
  const mutated = changesRequest(route, dest)
    ? mutateRequest({ path: inc.path, authority: inc.authority, headers }, route, dest, decision)
    : null
  const request: UpstreamRequest = {
    method: inc.method,
    path: mutated === null ? inc.path : mutated.path,
    authority: mutated === null ? inc.authority : mutated.authority,
    headers: mutated === null ? headers : mutated.headers,
    body: inc.body,
    validated: inc.validated,
  }
  sendMirrors(deps, ctx, route, request)
  const reply = await forward(deps, ctx, cluster, route, request, upstreamVersion(ctx, destination.port.protocol), inc.timers)
  // forward's reply is this request's own object: completed in place, not copied twice more.
  for (let i = 0; i < faultFlags.length; i++) reply.flags.add(faultFlags[i]!)
  reply.upstreamCluster = cluster.name
  // The exchange's headers are this reply's own: copied only to be changed.
  if (changesResponse(route, dest)) reply.headers = mutateResponseHeaders(reply.headers, route, dest)
  if (serviceRef) reply.service = serviceRef
  return reply
}

function upstreamVersion(ctx: TunnelContext, protocol: string | null): UpstreamHttpVersion {
  if (protocol === 'HTTP2' || protocol === 'GRPC') return 'h2'
  if (protocol === 'HTTP') return 'http1'
  return ctx.downstream
}

function workloadCluster(config: WaypointConfig, endpoint: Endpoint): UpstreamCluster {
  return {
    name: `inbound-vip|${endpoint.targetPort}|http|${endpoint.address}`,
    hostname: endpoint.address,
    namespace: endpoint.namespace,
    port: endpoint.targetPort,
    subset: null,
    subsetLabels: {},
    destinationRule: null,
    endpoints: [endpoint],
    trafficPolicy: {
      loadBalancer: 'ROUND_ROBIN',
      outlierDetection: null,
      connectionPool: unlimitedConnectionPool(config.defaults.connectTimeoutMs, null),
    },
  }
}

// The pool's view of a cluster, one per cluster object (a config object, never changed in place)
// while its runtime's breaker stays the same (a policy change builds a new one).
const poolClusters = new WeakMap<UpstreamCluster, PoolCluster>()

function poolCluster(deps: HttpProxyDeps, cluster: UpstreamCluster): PoolCluster {
  const breaker = deps.state.runtime(cluster).breaker
  let pc = poolClusters.get(cluster)
  if (pc === undefined || pc.breaker !== breaker) {
    pc = Object.freeze({ name: cluster.name, breaker, idleTimeoutMs: cluster.trafficPolicy.connectionPool.idleTimeoutMs })
    poolClusters.set(cluster, pc)
  }
  return pc
}

function sendMirrors(deps: HttpProxyDeps, ctx: TunnelContext, route: HttpRoute, request: UpstreamRequest): void {
  for (const m of decideMirrors(route.mirrors, request.authority, deps.random)) {
    const cluster = ctx.config.clusters.find((c) => c.name === m.mirror.cluster)
    if (!cluster) continue
    const pick = deps.state.pick(cluster)
    if (pick.kind !== 'picked') continue
    const signal = timeoutSignal(route.timeoutMs ?? MIRROR_TIMEOUT_MS)
    const shadow: UpstreamRequest = { ...request, authority: m.authority }
    // Fire and forget: the primary never waits for it, and its failure is only logged.
    deps.upstream.send(poolCluster(deps, cluster), pick.endpoint, upstreamVersion(ctx, null), shadow, signal).then(
      (response) => {
        response.body.on('error', () => undefined)
        response.body.resume()
      },
      (err: unknown) =>
        deps.logger.debug(
          { event: 'mirror_failed', cluster: cluster.name, reason: errorMessage(err), code: errorCode(err) },
          'mirror request failed',
        ),
    )
  }
}

// The tries of one request (engines/retry-policy): each try picks an endpoint (engines/load-balancer,
// avoiding endpoints this request already tried) and goes through the cluster's pool, whose circuit
// breaker may refuse it (UO, never retried). The route timeout is one deadline over all tries and
// backoffs; each try is bounded by min(perTryTimeout, time left). A retry needs a slot of the
// cluster's retry budget (engines/circuit-breaker 'retry', the limit retry-policy documents), held
// from the decision through its backoff until that try ends; a refused retry answers the last try's
// reply flagged UO, an exhausted one URX — both counted in the metrics, never a silent storm.
async function forward(
  deps: HttpProxyDeps,
  ctx: TunnelContext,
  cluster: UpstreamCluster,
  route: HttpRoute | null,
  request: UpstreamRequest,
  version: UpstreamHttpVersion,
  timers: TryTimers,
): Promise<Reply> {
  const policy = retryPolicyFor(route, ctx.config.defaults)
  const plan = planTimeouts(route?.timeoutMs ?? null, policy, deps.now())
  timers.startDeadline(plan.deadlineMs === null ? null : plan.deadlineMs - deps.now())
  const pool = poolCluster(deps, cluster)
  const breaker = pool.breaker
  // Endpoints already tried, made on the first retry (most requests have one try).
  let tried: Set<string> | undefined
  let tryTimeout = plan.firstTryTimeoutMs
  let releaseRetry: (() => void) | null = null
  const endRetry = (): void => {
    releaseRetry?.()
    releaseRetry = null
  }
  for (let tries = 1; ; tries++) {
    // The downstream went away (before the first try, or in a retry's backoff): no more tries.
    if (timers.downstreamGone) {
      endRetry()
      return downstreamGone(null)
    }
    const pick = deps.state.pick(cluster, tried)
    if (pick.kind !== 'picked') {
      endRetry()
      return { ...local(pick.reply.status, pick.reply.body, [pick.reply.responseFlag]), reason: `no healthy endpoint in ${cluster.name}` }
    }
    const endpoint = pick.endpoint
    const endTry = deps.state.begin(cluster, endpoint)
    const signal = timers.nextTry(tryTimeout)
    let outcome: AttemptOutcome
    let reply: Reply
    try {
      const response = await deps.upstream.send(pool, endpoint, version, request, signal, timers)
      timers.resetTry = null
      if (timers.downstreamGone) {
        // Answered as the downstream went: nobody to write it to.
        endTry({ kind: 'status', status: response.status })
        response.discard()
        endRetry()
        return downstreamGone(endpoint)
      }
      outcome = { kind: 'response', status: response.status, grpcStatus: grpcFromHeaders(response.headers) ?? null }
      endTry({ kind: 'status', status: response.status })
      reply = {
        status: response.status,
        // The exchange's own copy (stripHopByHop), not shared: no second copy.
        headers: response.headers as Record<string, string | string[]>,
        body: response,
        flags: new Set(),
        endpoint,
      }
    } catch (err) {
      timers.resetTry = null
      if (timers.downstreamGone) {
        // Reset because the downstream went away: no failure of the endpoint's, and no retry.
        endTry(null)
        endRetry()
        return downstreamGone(endpoint)
      }
      if (isAmbientError(err, L7ErrorCode.overflow)) {
        endTry(null)
        outcome = { kind: 'overflow' }
        reply = {
          ...local(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', ['UO']),
          reason: errorMessage(err),
        }
      } else if (timers.deadlineHit) {
        endTry({ kind: 'timeout' })
        endRetry()
        return timedOut(route, endpoint)
      } else {
        const connectFailed = isAmbientError(err, L7ErrorCode.upstreamConnectFailed)
        outcome = timers.tryTimedOut ? { kind: 'per-try-timeout' } : connectFailed ? { kind: 'connect-failure' } : { kind: 'reset' }
        endTry(outcome.kind === 'per-try-timeout' ? { kind: 'timeout' } : { kind: connectFailed ? 'connect-failure' : 'reset' })
        reply =
          outcome.kind === 'per-try-timeout'
            ? { ...local(504, 'upstream request timeout', ['UT']), endpoint }
            : {
                ...local(
                  503,
                  `upstream connect error or disconnect/reset before headers. reset reason: ${connectFailed ? 'connection failure' : 'connection termination'}`,
                  [connectFailed ? 'UF' : 'UC'],
                ),
                endpoint,
                reason: errorMessage(err),
              }
      }
    }
    endRetry()
    const counts = breaker.counts()
    const decision = decideRetry({
      policy,
      outcome,
      triesMade: tries,
      nowMs: deps.now(),
      deadlineMs: plan.deadlineMs,
      random: deps.random,
      budget: {
        activeRequests: Math.max(1, counts.requests),
        pendingRequests: counts.pending,
        activeRetries: counts.retries,
        maxRetries: cluster.trafficPolicy.connectionPool.maxRetries,
      },
    })
    if (decision.kind === 'stop') {
      if (decision.replyStatus === 504) {
        if (!Buffer.isBuffer(reply.body)) reply.body.discard()
        return timedOut(route, endpoint)
      }
      if (decision.responseFlag !== null) reply.flags.add(decision.responseFlag)
      if (decision.cause === 'retry-budget')
        deps.logger.info({ event: 'retry_refused', cluster: cluster.name, reason: decision.reason }, 'retry refused by the retry budget')
      reply.reason ??= decision.reason
      return reply
    }
    const slot = breaker.tryAcquire('retry')
    if (slot.kind === 'overflow') {
      reply.flags.add('UO')
      deps.logger.info({ event: 'retry_refused', cluster: cluster.name, reason: slot.reason }, 'retry refused by the retry budget')
      return { ...reply, reason: slot.reason }
    }
    let released = false
    releaseRetry = () => {
      if (released) return
      released = true
      breaker.release('retry')
    }
    if (!Buffer.isBuffer(reply.body)) reply.body.discard()
    if (tried === undefined) tried = new Set()
    tried.add(endpoint.uid)
    deps.logger.debug({ event: 'retry', cluster: cluster.name, endpoint: endpoint.uid, reason: decision.reason }, 'retrying request')
    if (decision.backoffMs > 0) await timers.backoff(decision.backoffMs)
    tryTimeout = decision.tryTimeoutMs
  }
}

/**
 * Envoy's response code for a request that got no response because its downstream went away
 * (with the DC flag): 0, in istio_requests_total and the access log alike. Nothing is written.
 */
export const DOWNSTREAM_GONE_STATUS = 0
/** The flags recorded with it (the waypoint's and the sidecar inbound's). */
export const DOWNSTREAM_GONE_FLAGS: readonly HttpResponseFlag[] = Object.freeze(['DC'])

const HTTP1_CODEC_ERRORS: ReadonlySet<string> = new Set(Object.values(Http1ErrorCode))

/**
 * A request whose body could not be read, as Envoy counts it: over the buffer 413; malformed (our
 * HTTP/1.1 codec refused it) 400 DPE; cut by the downstream (a reset, a close) 0 DC, unanswered.
 */
function bodyReadFailed(err: unknown): Reply {
  if (isAmbientError(err, L7ErrorCode.requestTooLarge)) return local(413, 'payload too large', [])
  if (HTTP1_CODEC_ERRORS.has(errorCode(err))) return local(400, `bad request: ${errorMessage(err)}`, ['DPE'])
  return downstreamGone(null, `request body: ${errorMessage(err)}`)
}

/**
 * The downstream reset its request or closed its connection before the answer: the try in progress
 * was reset and none follows. Counted 0 DC (Envoy's), as a request the client cuts while its body is read.
 */
function downstreamGone(endpoint: Endpoint | null, reason = 'the downstream went away before the response'): Reply {
  const reply = local(DOWNSTREAM_GONE_STATUS, 'downstream connection termination', DOWNSTREAM_GONE_FLAGS, reason)
  if (endpoint !== null) reply.endpoint = endpoint
  return reply
}

function timedOut(route: HttpRoute | null, endpoint: Endpoint): Reply {
  const reply = local(504, 'upstream request timeout', ['UT'], `route timeout ${route?.timeoutMs ?? 0} ms`)
  reply.endpoint = endpoint
  return reply
}

function local(status: number, body: string, flags: readonly HttpResponseFlag[], reason?: string): Reply {
  const reply: Reply = { status, headers: { 'content-type': 'text/plain' }, body: Buffer.from(body), flags: new Set(flags) }
  if (reason !== undefined) reply.reason = reason
  return reply
}

function grpcFromHeaders(headers: Readonly<Record<string, string | readonly string[]>>): number | undefined {
  const v = headers['grpc-status']
  return typeof v === 'string' ? Number(v) : undefined
}

function grpcStatusOf(reply: Reply): number | undefined {
  const fromHeaders = grpcFromHeaders(reply.headers)
  if (fromHeaders !== undefined) return fromHeaders
  if (Buffer.isBuffer(reply.body)) return undefined
  return grpcFromHeaders(reply.body.trailers())
}

/**
 * The body when it arrived whole with the head (our codec's request: nothing left to read, so
 * nothing to destroy), without a promise; null when it is still to be read (readRequestBody). Over
 * MAX_REQUEST_BODY_BYTES it throws `tooLargeCode`.
 */
export function wholeRequestBody(req: DownstreamRequest, tooLargeCode: string = L7ErrorCode.requestTooLarge): Buffer | null {
  const whole = req.takeBody?.() ?? null
  if (whole !== null && whole.length > MAX_REQUEST_BODY_BYTES)
    throw new AmbientError(tooLargeCode, `request body over ${MAX_REQUEST_BODY_BYTES} bytes`, { side: 'downstream' })
  return whole
}

/**
 * The whole request body (listeners, not an async iterator: no promise per chunk). As `for await`
 * did: the request is destroyed once read or over the limit, an error rejects with it, and a request
 * closed before its end rejects with `Premature close`.
 */
export function readRequestBody(req: DownstreamRequest, tooLargeCode: string = L7ErrorCode.requestTooLarge): Promise<Buffer> {
  let whole: Buffer | null
  try {
    whole = wholeRequestBody(req, tooLargeCode)
  } catch (err) {
    return Promise.reject(err)
  }
  if (whole !== null) return Promise.resolve(whole)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (err: Error | null): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
      req.destroy()
      if (err !== null) return reject(err)
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > MAX_REQUEST_BODY_BYTES)
        return settle(new AmbientError(tooLargeCode, `request body over ${MAX_REQUEST_BODY_BYTES} bytes`, { side: 'downstream' }))
      chunks.push(chunk)
    }
    const onEnd = (): void => settle(null)
    const onError = (err: Error): void => settle(err)
    const onClose = (): void => settle(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }))
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** Writes the reply; resolves with the response body bytes once it ended (or the client left). */
function writeReply(ctx: TunnelContext, reply: Reply, res: DownstreamResponse): Promise<number> {
  // No response for a downstream that went away (its request or connection is already closed).
  if (reply.status === DOWNSTREAM_GONE_STATUS) return Promise.resolve(0)
  const headers = ctx.downstream === 'h2' ? stripHopByHop(reply.headers) : reply.headers
  if (Buffer.isBuffer(reply.body)) {
    res.writeHead(reply.status, { ...headers, 'content-length': String(reply.body.length) })
    res.end(reply.body)
    return Promise.resolve(reply.body.length)
  }
  return streamResponse(reply.status, headers, reply.body, res)
}

/** Our codec's response writes what the upstream's parse checked without checking it again. */
function writeHead(res: DownstreamResponse, status: number, headers: Record<string, string | string[]>, upstream: UpstreamResponse): void {
  if (upstream.validated !== undefined && res instanceof Http1ServerResponse) res.writeHead(status, headers, upstream.validated)
  else res.writeHead(status, headers)
}

/** Streams an upstream response downstream; resolves with the body bytes once it ended (or the client left). */
export function streamResponse(
  status: number,
  headers: Record<string, string | string[]>,
  upstream: UpstreamResponse,
  res: DownstreamResponse,
): Promise<number> {
  // Already read whole (a small HTTP/1.1 response, complete in one read): one end() and no stream.
  const whole = upstream.takeBody?.() ?? null
  if (whole !== null)
    return new Promise((resolve) => {
      writeHead(res, status, headers, upstream)
      res.on('close', () => resolve(whole.length))
      const trailers = upstream.trailers()
      if (Object.keys(trailers).length > 0) res.addTrailers(trailers as Record<string, string>)
      res.end(whole)
    })
  return new Promise((resolve) => {
    let bytes = 0
    writeHead(res, status, headers, upstream)
    res.on('close', () => {
      if (!res.writableFinished) upstream.discard()
      resolve(bytes)
    })
    upstream.body.on('data', (chunk: Buffer) => {
      bytes += chunk.length
      if (!res.write(chunk)) {
        upstream.body.pause()
        res.once('drain', () => upstream.body.resume())
      }
    })
    upstream.body.on('end', () => {
      const trailers = upstream.trailers()
      if (Object.keys(trailers).length > 0) res.addTrailers(trailers as Record<string, string>)
      res.end()
    })
    upstream.body.on('error', () => {
      // The upstream reset mid-body: reset the downstream rather than end it cleanly.
      const r = res as DownstreamResponseObject
      // Our codec's connection closes as a socket would (END_STREAM on a tunnel, not a reset).
      if (r instanceof Http1ServerResponse) r.destroy()
      else (('stream' in r ? r.stream : r.socket) as Duplex | null)?.destroy()
      resolve(bytes)
    })
  })
}
