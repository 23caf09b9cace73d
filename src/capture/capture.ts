// The one capture contract (architecture.md, "socks mode" and "tproxy mode"). A Capture accepts an
// application's outbound TCP connection, finds out where the application wanted to go, and hands
// the connection to the outbound proxy as a CapturedConnection. The proxy never learns which
// capture delivered it: SOCKS5 (src/capture/socks5.ts) and transparent capture both speak this.
//
// Invariants every implementation keeps:
// - the socket is paused when handed over and no byte the client sent after its request is lost
//   (they are unshifted back onto the socket, so the proxy's first read gets them);
// - exactly one of accept() / reject() speaks to the client; the capture owns the wire format of
//   both (SOCKS reply codes, TCP RST), the proxy only says *why* in a CaptureRejectReason;
// - after hand-over the socket belongs to the proxy; Capture.close() stops accepting and drops
//   connections still in their handshake, but leaves handed-over ones to the proxy's drain.
import type { Socket } from 'node:net'

/** Where the application wanted to connect, as the capture learned it. IPs are canonical text. */
export type OriginalDestination =
  | { readonly kind: 'ip'; readonly ip: string; readonly port: number }
  /** Only SOCKS with a domain name (socks5h) yields this; resolve with src/mesh/hostname-resolution.ts. */
  | { readonly kind: 'hostname'; readonly hostname: string; readonly port: number }

/**
 * Why the outbound proxy refuses a captured connection. Named after the cause, not after a wire
 * code: SOCKS maps them in socks5-reply.ts (`socks5ReplyCode`), transparent capture sends a RST.
 */
export type CaptureRejectReason =
  /** An AuthorizationPolicy (or mesh rule) forbids the flow. */
  | 'policy-denied'
  /** The destination is one of the proxy's own ports (15001/15006/15008): refused to avoid a loop. */
  | 'proxy-loop'
  /** The hostname matches no Service and cannot be resolved. */
  | 'unknown-hostname'
  /** The Service exists but has no healthy endpoint (or its waypoint is missing: fail closed). */
  | 'no-healthy-endpoint'
  /** The destination is on a network we have no route or gateway to. */
  | 'network-unreachable'
  /** The upstream (pod, waypoint or passthrough target) did not answer in time. */
  | 'upstream-timeout'
  /** The upstream actively refused (TCP RST, HBONE 503 from a refused app connection). */
  | 'upstream-refused'
  /** Our own fault, or shutting down. */
  | 'internal'

export interface CapturedConnection {
  /**
   * The client's socket, explicitly paused; pipelined bytes are already back in its read buffer.
   * Attach the reader, then call resume(): Node does not resume an explicitly paused stream when
   * a 'data' listener is added.
   */
  readonly socket: Socket
  /** The opaque key given when the capture was created (e.g. the workload uid). */
  readonly sourcePod: string
  readonly originalDst: OriginalDestination
  /**
   * In-pod capture: makes an unconnected socket in the source pod's netns, marked so the pod's
   * rules let it out; every upstream leg (passthrough TCP, HBONE) starts from it. Absent: connect
   * from ztunnel's own namespace (socks mode).
   */
  readonly upstreamSocket?: () => Socket
  /**
   * Tell the client it is connected (SOCKS: success reply; transparent: nothing). Resolves once the
   * reply is flushed to the kernel; rejects with an AmbientError if the client is gone or the
   * connection was already settled. Call it only once the upstream is connected.
   */
  accept(): Promise<void>
  /**
   * Refuse the connection (SOCKS: error reply, then close; transparent: RST). Idempotent; after
   * accept() it can no longer send a reply and just closes the socket.
   */
  reject(reason: CaptureRejectReason): void
}

/** Receives every captured connection. It must eventually call accept() or reject(). */
export type CapturedConnectionHandler = (connection: CapturedConnection) => void

export interface BoundAddress {
  readonly address: string
  readonly port: number
}

export interface Capture {
  /** Binds the listeners; resolves with what was bound (port 0 becomes the real port). */
  start(): Promise<readonly BoundAddress[]>
  /** Stops accepting and drops connections still in handshake. Idempotent. */
  close(): Promise<void>
}

/**
 * The slice of a logger captures use; pino's Logger fits. Injected (no module-level logger): there is no
 * module-level logger. Every record has a stable `event` field, so tests and tools match on data.
 */
export interface CaptureLogger {
  debug(fields: Record<string, unknown>, message: string): void
  warn(fields: Record<string, unknown>, message: string): void
}

export const silentCaptureLogger: CaptureLogger = {
  debug: () => undefined,
  warn: () => undefined,
}
