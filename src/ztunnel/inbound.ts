// Inbound: what a pod's listeners do with a connection once it arrived. HBONE (15008): the server
// already verified the peer's certificate, checked the method and parsed `:authority`; we decide
// (inbound-plan.ts), connect to the app, and return the outcome the server writes as 200/400/401/503;
// an accepted tunnel is then handed to us to pipe. Plaintext (15006-style, one listener per app port
// in socks mode): the same decision with no identity. Every attempt, admitted or not, is one flow
// record, opened once right after the decision.
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { AmbientError } from '../errors.js'
import type { ConnectHandler } from '../hbone/server.js'
import type { ConnectOutcome } from '../hbone/status.js'
import { parseForwarded } from '../hbone/headers.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import type { MeshView } from '../mesh/types.js'
import { formatAuthority, formatHostPort, type SocketAddress } from '../net/address.js'
import { connectTcp } from '../net/listen.js'
import { reset } from '../net/pipe.js'
import { openFlow, type FlowOptions } from '../observability/flow-record.js'
import type { FlowRegistry } from '../observability/flow-registry.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import type { ConnectionSecurityPolicy } from '../observability/traffic-labels.js'
import { workloadPeer } from './flow-peers.js'
import { liveFlow } from './flow-pipe.js'
import { InboundErrorCode, planInbound, type InboundPlan } from './inbound-plan.js'
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
  /** Connected to the app: `serve` pipes the downstream to it, `cancel` gives up before that. */
  | { readonly kind: 'connected'; readonly serve: (downstream: Duplex) => void; readonly cancel: (reason: AmbientError) => void }

/** Decides, records and connects; the caller hands over the downstream (HBONE: once answered 200). */
async function prepare(ctx: InboundContext, arrival: Arrival): Promise<Prepared> {
  const plan = planInbound({
    mesh: ctx.mesh,
    localNode: ctx.node,
    listenerIp: arrival.listenerIp,
    dst: arrival.dst,
    srcIp: arrival.src.ip,
    srcIdentity: arrival.srcIdentity,
  })
  const flow = openFlow(flowOptionsFor(ctx, arrival, plan))
  switch (plan.kind) {
    case 'reject':
      flow.close({ error: new AmbientError(plan.code, plan.reason, { side: 'downstream' }) })
      return {
        kind: 'refused',
        outcome: plan.status === 400 ? { kind: 'bad-request', reason: plan.reason } : { kind: 'unavailable', reason: plan.reason },
      }
    case 'deny': {
      const reason = `connection closed due to policy rejection: ${plan.decision.reason}`
      flow.close({
        error: new AmbientError(InboundErrorCode.denied, reason, { side: 'downstream', details: { policy: plan.decision.decidingPolicy } }),
      })
      return { kind: 'refused', outcome: { kind: 'denied', reason } }
    }
    case 'accept':
      break
  }
  let app: Socket
  try {
    const appSocket = ctx.appSocket
    app = await connectTcp({
      host: ctx.appOnPodIp === true ? arrival.listenerIp : plan.appAddress.ip,
      port: plan.appAddress.port,
      connectTimeoutMs: ctx.connectTimeoutMs,
      ...(appSocket === undefined ? {} : { socket: () => appSocket(arrival.src) }),
    })
  } catch (err) {
    const reason = `app at ${formatAuthority(plan.appAddress)} refused the connection`
    flow.close({ error: new AmbientError(InboundErrorCode.appUnreachable, reason, { side: 'upstream', cause: err }) })
    return { kind: 'refused', outcome: { kind: 'unavailable', reason } }
  }
  return {
    kind: 'connected',
    serve(downstream) {
      const live = liveFlow(ctx.flows, flow, downstream, app)
      ctx.watcher.track(flow.id, plan.workload.uid, plan.connection)
      void live.pipe()
    },
    cancel(reason) {
      reset(app)
      flow.close({ error: reason })
    },
  }
}

function flowOptionsFor(ctx: InboundContext, a: Arrival, plan: InboundPlan): FlowOptions {
  const srcWorkload = ctx.mesh.workloadByAddress(a.src.ip)
  return {
    reporter: 'destination',
    direction: 'inbound',
    src: workloadPeer(formatHostPort(a.src.ip, a.src.port), srcWorkload, { identity: a.srcIdentity }),
    dst: workloadPeer(formatAuthority(a.dst), plan.workload),
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
      listenerIp,
      dst: request.authority,
      src,
      srcIdentity: request.peer.identity,
      security: 'mutual_tls',
    })
    if (prepared.kind === 'refused') return prepared.outcome
    return { kind: 'accept', serve: prepared.serve, cancel: prepared.cancel }
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
  prepared.serve(socket)
}
