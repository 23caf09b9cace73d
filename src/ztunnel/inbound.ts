// Inbound: what a pod's listeners do with a connection once it arrived. HBONE (15008): the server
// already verified the peer's certificate and parsed the CONNECT; we admit (checks + L4 policy),
// connect to the app, and return the outcome the server writes as 200/400/401/503. Plaintext
// (15006-style, one listener per app port in socks mode): the same admission with no identity.
// Every attempt, admitted or not, is one flow record.
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { AmbientError } from '../errors.js'
import type { ConnectHandler } from '../hbone/server.js'
import type { ConnectOutcome } from '../hbone/status.js'
import { parseForwarded } from '../hbone/headers.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import type { MeshView } from '../mesh/types.js'
import { connectTcp } from '../net/listen.js'
import { pipe, reset, type PipeResult } from '../net/pipe.js'
import { formatHostPort } from '../net/address.js'
import type { Flow } from '../observability/flow-record.js'
import { openFlow } from '../observability/flow-record.js'
import type { FlowRegistry } from '../observability/flow-registry.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import type { ConnectionSecurityPolicy } from '../observability/traffic-labels.js'
import type { SocketAddress } from './address.js'
import { workloadPeer } from './flow-peers.js'
import { admitInbound, InboundErrorCode, type Admission } from './inbound-admission.js'
import type { PolicyWatcher } from './policy-watcher.js'

export interface InboundContext {
  readonly mesh: MeshView
  readonly node: string
  readonly flows: FlowRegistry
  readonly watcher: PolicyWatcher
  readonly metrics: Metrics
  readonly logger: Logger
  readonly hbonePort: number
  readonly connectTimeoutMs: number
  /**
   * In-pod capture: the app-facing socket, made in the pod's netns, marked, and bound to the
   * source's address (the app sees the caller's IP, as in Istio). Absent: connect from ztunnel's
   * namespace to the app's pod-local address (socks mode).
   */
  readonly appSocket?: (src: SocketAddress) => Socket
  /** In-pod capture: the app listens on the pod IP itself (there is no pod-local address). */
  readonly appOnPodIp?: boolean
}

interface Arrival {
  readonly listenerIp: string
  readonly dst: SocketAddress
  readonly src: SocketAddress
  readonly srcIdentity: SpiffeId | undefined
  readonly security: ConnectionSecurityPolicy
}

type Prepared =
  | { readonly kind: 'refused'; readonly outcome: Exclude<ConnectOutcome, { kind: 'accept' }> }
  /** `attach` names the downstream (for termination) and starts the policy re-checks. */
  | { readonly kind: 'connected'; readonly app: Socket; readonly flow: Flow; readonly attach: (downstream: Duplex) => void }

/** Admits, records and connects; the caller pipes (HBONE: the server; plaintext: us). */
async function prepare(ctx: InboundContext, arrival: Arrival): Promise<Prepared> {
  const admission = admitInbound({
    mesh: ctx.mesh, node: ctx.node, listenerIp: arrival.listenerIp, dst: arrival.dst, srcIp: arrival.src.ip, srcIdentity: arrival.srcIdentity,
  })
  const flowOptions = flowOptionsFor(ctx, arrival, admission)
  if (admission.kind !== 'allow') {
    const flow = openFlow(flowOptions)
    if (admission.kind === 'reject') {
      flow.close({ error: new AmbientError(admission.code, admission.reason, { side: 'downstream' }) })
      return { kind: 'refused', outcome: admission.status === 400 ? { kind: 'bad-request', reason: admission.reason } : { kind: 'unavailable', reason: admission.reason } }
    }
    const reason = `connection closed due to policy rejection: ${admission.decision.reason}`
    flow.close({ error: new AmbientError(InboundErrorCode.denied, reason, { side: 'downstream', details: { policy: admission.decision.decidingPolicy } }) })
    return { kind: 'refused', outcome: { kind: 'denied', reason } }
  }
  let app: Socket
  try {
    const appSocket = ctx.appSocket
    app = await connectTcp({
      host: ctx.appOnPodIp === true ? arrival.listenerIp : admission.appAddress.ip, port: admission.appAddress.port, connectTimeoutMs: ctx.connectTimeoutMs,
      ...(appSocket === undefined ? {} : { socket: () => appSocket(arrival.src) }),
    })
  } catch (err) {
    const flow = openFlow(flowOptions)
    const reason = `app at ${formatHostPort(admission.appAddress.ip, admission.appAddress.port)} refused the connection`
    flow.close({ error: new AmbientError(InboundErrorCode.appUnreachable, reason, { side: 'upstream', cause: err }) })
    return { kind: 'refused', outcome: { kind: 'unavailable', reason } }
  }
  let downstreamRef: Duplex | undefined
  const flow = ctx.flows.open(flowOptions, () => {
    // Terminated (policy change, drain): the record closes before the pipe reports its counts, so
    // take them from the app socket now (received = written to the app, sent = read from it).
    flow.addReceived(app.bytesWritten)
    flow.addSent(app.bytesRead)
    reset(app)
    if (downstreamRef) reset(downstreamRef)
  })
  // Live counts for views of busy flows: received = written to the app, sent = read from it.
  flow.watchBytes(() => ({ sent: app.bytesRead, received: app.bytesWritten }))
  const attach = (downstream: Duplex): void => {
    downstreamRef = downstream
    ctx.watcher.track(flow.id, admission.workload.uid, admission.connection)
  }
  return { kind: 'connected', app, flow, attach }
}

function finish(flow: Flow, result: PipeResult): void {
  flow.addSent(result.bytesSent)
  flow.addReceived(result.bytesReceived)
  flow.close(result.error === undefined ? {} : { error: result.error })
}

function flowOptionsFor(ctx: InboundContext, a: Arrival, admission: Admission) {
  const srcWorkload = ctx.mesh.workloadByAddress(a.src.ip)
  return {
    reporter: 'destination' as const,
    direction: 'inbound' as const,
    src: workloadPeer(formatHostPort(a.src.ip, a.src.port), srcWorkload, { identity: a.srcIdentity }),
    dst: workloadPeer(formatHostPort(a.dst.ip, a.dst.port), admission.workload),
    ...(a.security === 'mutual_tls' ? { dstHboneAddr: formatHostPort(a.listenerIp, ctx.hbonePort) } : {}),
    securityPolicy: a.security,
    logger: ctx.logger,
    metrics: ctx.metrics,
  }
}

/** The HBONE server's callback for one pod's 15008 listener. */
export function hboneInbound(ctx: InboundContext, listenerIp: string): ConnectHandler {
  return async (request) => {
    // ztunnel takes the original client address from `forwarded: for=` (set by the source ztunnel);
    // without it, the TCP peer of the tunnel is the best we know.
    const forwarded = parseForwarded(request.headers.forwarded as string | undefined)
    const src = forwarded.for ?? { ip: request.remoteAddress, port: request.remotePort }
    const prepared = await prepare(ctx, {
      listenerIp, dst: request.authority, src, srcIdentity: request.peer.identity, security: 'mutual_tls',
    })
    if (prepared.kind === 'refused') return prepared.outcome
    prepared.attach(request.stream)
    return { kind: 'accept', upstream: prepared.app, onDone: (result) => finish(prepared.flow, result) }
  }
}

/** A plaintext connection to a pod's app port, captured by ztunnel (no peer identity). */
export async function plaintextInbound(ctx: InboundContext, listenerIp: string, socket: Socket): Promise<void> {
  socket.on('error', () => undefined) // the pipe reports errors; this only keeps the process alive meanwhile
  socket.pause()
  const local = { ip: listenerIp, port: socket.localPort ?? 0 }
  const src = { ip: socket.remoteAddress ?? '0.0.0.0', port: socket.remotePort ?? 0 }
  const prepared = await prepare(ctx, { listenerIp, dst: local, src, srcIdentity: undefined, security: 'unknown' })
  if (prepared.kind === 'refused') {
    // Istio resets a plaintext connection it refuses: there is no protocol to carry a reason.
    reset(socket)
    return
  }
  prepared.attach(socket)
  const p = pipe(socket, prepared.app)
  socket.resume()
  void p.done.then((result) => finish(prepared.flow, result))
}
