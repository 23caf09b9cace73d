// ztunnel's DNS proxy (Istio: ISTIO_META_DNS_CAPTURE; 15053 in each pod, UDP and TCP). One proxy per
// ztunnel serves any number of listeners; each listener belongs to one pod, and that pod is the
// client of every query it receives (ztunnel knows the pod by the network namespace the listener
// lives in; we know it by the listener). Listeners come either already bound (in-pod capture opens
// them inside the pod's network namespace and hands them over) or bound here (`listen`, socks mode
// and tests).
//
// Per query: decode (malformed → FORMERR, never an exception out of the server) → decide
// (resolver.ts, pure) → answer, or forward upstream (upstream.ts; failure or timeout → SERVFAIL; no
// upstream → NXDOMAIN) → metrics (metrics.ts) and one debug line; failures also get a warn line,
// rate-limited per kind (failure-log.ts).
import dgram from 'node:dgram'
import type { EventEmitter } from 'node:events'
import net, { type AddressInfo, type Server, type Socket } from 'node:net'
import { AmbientError, assertNever, errorCode, errorMessage } from '../../errors.js'
import type { MeshView, Workload } from '../../mesh/types.js'
import { formatHostPort } from '../../net/address.js'
import { closeServer, listen, ListenErrorCode, type ListenAddress } from '../../net/listen.js'
import { childLogger, type Logger } from '../../observability/logger.js'
import type { Metrics } from '../../observability/metrics.js'
import { createFailureLog, type FailureLog } from './failure-log.js'
import {
  buildResponse,
  decodeMessage,
  DnsOpcode,
  DnsRcode,
  encodeMessage,
  headerOnlyResponse,
  typeName,
  udpLimit,
  type DnsMessage,
} from './message.js'
import { dnsLabels, dnsMetrics, type DnsLabels, type DnsMetrics } from './metrics.js'
import { resolveDnsQuestion } from './resolver.js'
import type { DnsUpstream } from './upstream.js'

/** Istio's DNS capture port (docs/istio-reference.md, Ports). */
export const DNS_PROXY_PORT = 15053
/** ztunnel's DEFAULT_TCP_REQUEST_TIMEOUT: a TCP connection with no query for this long is closed. */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 5_000
const TCP_MAX_MESSAGE_BYTES = 65535
/** Pipelined queries one TCP connection may have in flight; past it we stop reading (backpressure). */
const TCP_MAX_IN_FLIGHT = 64

/** The pod a listener serves. Looked up in mesh state at each query, so changes are seen at once. */
export interface DnsPodContext {
  readonly workloadUid: string
}

export type DnsProtocol = 'udp' | 'tcp'

export interface DnsProxyOptions {
  readonly state: MeshView
  /** Where names we do not answer go; without one they are NXDOMAIN. */
  readonly upstream?: DnsUpstream | undefined
  readonly logger: Logger
  readonly metrics: Metrics
  readonly clusterDomain?: string
  readonly failureLogIntervalMs?: number
  readonly tcpIdleTimeoutMs?: number
}

/** One listener being served; close() stops serving and closes the socket (it is the proxy's now). */
export interface DnsServing {
  close(): Promise<void>
}

export interface DnsListener extends DnsServing {
  readonly udp: AddressInfo
  readonly tcp: AddressInfo
}

export interface DnsProxy {
  /** Serve a bound UDP socket for `pod`. */
  serveUdp(socket: dgram.Socket, pod: DnsPodContext): DnsServing
  /** Serve a listening (or about to listen) TCP server for `pod`: 2-byte length framing (RFC 1035 §4.2.2). */
  serveTcp(server: Server, pod: DnsPodContext): DnsServing
  /** Bind UDP and TCP on one host:port (port 0: one free port for both) and serve them for `pod`. */
  listen(address: ListenAddress, pod: DnsPodContext): Promise<DnsListener>
  /** One query, one reply (undefined: nothing to send). Never rejects. */
  handle(query: Buffer, pod: DnsPodContext, protocol: DnsProtocol): Promise<Buffer | undefined>
  /** Stops every listener this proxy serves. The upstream is the caller's. */
  close(): Promise<void>
}

export function createDnsProxy(options: DnsProxyOptions): DnsProxy {
  const { state, upstream } = options
  const clusterDomain = options.clusterDomain ?? 'cluster.local'
  const logger = childLogger(options.logger, 'dns')
  const metrics: DnsMetrics = dnsMetrics(options.metrics.registry)
  const failures: FailureLog = createFailureLog(logger, options.failureLogIntervalMs)
  const tcpIdleTimeoutMs = options.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS
  const serving = new Set<DnsServing>()

  const handle = async (query: Buffer, pod: DnsPodContext, protocol: DnsProtocol): Promise<Buffer | undefined> => {
    let message: DnsMessage | undefined
    try {
      const decoded = decodeMessage(query)
      if (!decoded.ok) {
        failures.failure('malformed', { pod: pod.workloadUid, protocol, reason: decoded.reason }, 'malformed DNS query')
        // A reply needs the header; a message that says it is a response gets none (no reply loops).
        return decoded.header === undefined || decoded.header.qr ? undefined : headerOnlyResponse(decoded.header, DnsRcode.formErr)
      }
      message = decoded.message
      if (message.header.qr) return undefined
      if (message.header.opcode !== DnsOpcode.query) return headerOnlyResponse(message.header, DnsRcode.notImp)
      const question = message.questions[0]
      if (question === undefined || message.questions.length > 1) {
        failures.failure(
          'malformed',
          { pod: pod.workloadUid, protocol, reason: `${message.questions.length} questions` },
          'malformed DNS query',
        )
        return headerOnlyResponse(message.header, DnsRcode.formErr)
      }
      const client = state.workloadByUid(pod.workloadUid)
      const labels = dnsLabels(typeName(question.type), protocol, client)
      metrics.requests.inc(labels)
      const limit = protocol === 'udp' ? udpLimit(message) : TCP_MAX_MESSAGE_BYTES
      const decision = resolveDnsQuestion({ question, client, mesh: state, clusterDomain })
      const log = (result: string, endpoints: number): void => accessLog(logger, client, pod, message!, result, endpoints)
      switch (decision.kind) {
        case 'servfail':
          failures.failure('unknown_source', { pod: pod.workloadUid, domain: question.name }, 'DNS query from a pod not in mesh state')
          log('unknown source', 0)
          return encodeMessage(buildResponse(message, { rcode: DnsRcode.servFail }), { maxBytes: limit })
        case 'answer': {
          const addresses = decision.records.filter((r) => r.type === question.type).length
          log(decision.reason, addresses)
          return encodeMessage(buildResponse(message, { rcode: DnsRcode.noError, authoritative: true, answers: decision.records }), {
            maxBytes: limit,
          })
        }
        case 'forward':
          if (upstream === undefined) {
            // Nobody to ask: a name of ours (asked for another type) exists, anything else does not.
            const rcode = decision.service === undefined ? DnsRcode.nxDomain : DnsRcode.noError
            log(rcode === DnsRcode.nxDomain ? 'no upstream: NXDOMAIN' : 'no upstream: no records of this type', 0)
            return encodeMessage(buildResponse(message, { rcode, authoritative: decision.service !== undefined }), { maxBytes: limit })
          }
          return await forward(upstream, message, query, protocol, labels, client, pod, limit)
        default:
          return assertNever(decision, 'DNS decision')
      }
    } catch (err) {
      failures.failure('internal', { pod: pod.workloadUid, code: errorCode(err), reason: errorMessage(err) }, 'DNS query failed')
      return message === undefined ? undefined : headerOnlyResponse(message.header, DnsRcode.servFail)
    }
  }

  const forward = async (
    up: DnsUpstream,
    message: DnsMessage,
    query: Buffer,
    protocol: DnsProtocol,
    labels: DnsLabels,
    client: Workload | undefined,
    pod: DnsPodContext,
    limit: number,
  ): Promise<Buffer> => {
    metrics.upstreamRequests.inc(labels)
    const endTimer = metrics.upstreamDurationSeconds.startTimer(labels)
    let reply: Buffer
    try {
      reply = await up.forward(query, protocol)
    } catch (err) {
      metrics.upstreamFailures.inc(labels)
      failures.failure(
        errorCode(err),
        {
          pod: pod.workloadUid,
          domain: message.questions[0]?.name,
          upstream: up.servers.join(','),
          reason: errorMessage(err),
        },
        'DNS forwarding failed',
      )
      accessLog(logger, client, pod, message, `forwarding failed (${errorCode(err)})`, 0)
      return encodeMessage(buildResponse(message, { rcode: DnsRcode.servFail }), { maxBytes: limit })
    } finally {
      endTimer()
    }
    accessLog(logger, client, pod, message, 'forwarded', reply.length >= 8 ? reply.readUInt16BE(6) : 0)
    // The upstream saw the client's own size offer, so a larger reply is rare. It is not re-encoded
    // (its other records may hold names compressed against its own layout): the client gets the
    // rcode with TC set and asks again over TCP.
    if (reply.length <= limit) return reply
    const cut = buildResponse(message, { rcode: reply.readUInt16BE(2) & 0xf })
    return encodeMessage({ ...cut, header: { ...cut.header, tc: true } }, { maxBytes: limit })
  }

  // One listening socket of a pod, UDP socket or TCP server: `listener` serves `event`, a socket
  // error is logged as `what`. Closing (once, whoever asks) stops serving, then `shut` releases it.
  const startServing = <A extends unknown[]>(
    emitter: EventEmitter,
    pod: DnsPodContext,
    protocol: DnsProtocol,
    what: string,
    event: string,
    listener: (...args: A) => void,
    shut: () => Promise<void>,
  ): DnsServing => {
    const onEvent = listener as (...args: unknown[]) => void
    emitter.on(event, onEvent)
    emitter.on('error', (err: Error) => failures.failure('socket', { pod: pod.workloadUid, protocol, reason: err.message }, what))
    let closed: Promise<void> | undefined
    const entry: DnsServing = {
      close() {
        closed ??= (async () => {
          serving.delete(entry)
          emitter.off(event, onEvent)
          await shut()
        })()
        return closed
      },
    }
    serving.add(entry)
    return entry
  }

  const serveUdp = (socket: dgram.Socket, pod: DnsPodContext): DnsServing => {
    const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
      void handle(msg, pod, 'udp').then((reply) => {
        if (reply === undefined) return
        socket.send(reply, rinfo.port, rinfo.address, (err) => {
          if (err)
            failures.failure(
              'send',
              { pod: pod.workloadUid, protocol: 'udp', to: formatHostPort(rinfo.address, rinfo.port), reason: err.message },
              'cannot send DNS reply',
            )
        })
      })
    }
    const shut = (): Promise<void> =>
      new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve())
        } catch {
          resolve() // already closed
        }
      })
    return startServing(socket, pod, 'udp', 'DNS UDP socket error', 'message', onMessage, shut)
  }

  const serveTcp = (server: Server, pod: DnsPodContext): DnsServing => {
    const sockets = new Set<Socket>()
    const onConnection = (socket: Socket): void => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      serveTcpConnection(socket, pod)
    }
    const shut = async (): Promise<void> => {
      for (const s of sockets) s.destroy()
      await closeServer(server)
    }
    return startServing(server, pod, 'tcp', 'DNS TCP listener error', 'connection', onConnection, shut)
  }

  // Queries may be pipelined and are answered as they complete (RFC 7766 §6.2.1.1). A peer's FIN
  // is a half-close: the answers still pending are sent, then our side ends.
  const serveTcpConnection = (socket: Socket, pod: DnsPodContext): void => {
    let buffered: Buffer = Buffer.alloc(0)
    let inFlight = 0
    let peerEnded = false
    // Idle means no query pending either: a slow upstream answer is not idleness (writing the
    // answer re-arms the timer).
    socket.setTimeout(tcpIdleTimeoutMs, () => {
      if (inFlight === 0) socket.destroy()
    })
    socket.on('error', () => undefined) // a reset peer: nothing to answer
    const maybeEnd = (): void => {
      if (inFlight < TCP_MAX_IN_FLIGHT && socket.isPaused()) socket.resume()
      if (peerEnded && inFlight === 0 && !socket.destroyed) socket.end()
    }
    socket.on('end', () => {
      peerEnded = true
      maybeEnd()
    })
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0)
        if (length === 0) {
          failures.failure('malformed', { pod: pod.workloadUid, protocol: 'tcp', reason: 'zero-length message' }, 'malformed DNS query')
          socket.destroy()
          return
        }
        if (buffered.length < 2 + length) break
        const query = Buffer.from(buffered.subarray(2, 2 + length))
        buffered = buffered.subarray(2 + length)
        inFlight += 1
        if (inFlight >= TCP_MAX_IN_FLIGHT) socket.pause()
        void handle(query, pod, 'tcp').then((reply) => {
          inFlight -= 1
          if (reply !== undefined && !socket.destroyed && socket.writable) {
            const frame = Buffer.alloc(2 + reply.length)
            frame.writeUInt16BE(reply.length, 0)
            reply.copy(frame, 2)
            socket.write(frame)
          }
          maybeEnd()
        })
      }
    })
  }

  const listenBoth = async (address: ListenAddress, pod: DnsPodContext): Promise<DnsListener> => {
    // Port 0: TCP picks the port and UDP takes the same one; another socket may hold that UDP port,
    // so try a few times.
    for (let attempt = 0; ; attempt++) {
      // Half-open, as every leg of ours: a client may FIN right after its query (see serveTcpConnection).
      const server = net.createServer({ allowHalfOpen: true, noDelay: true })
      const tcp = await listen(server, address)
      const socket = dgram.createSocket({ type: tcp.family === 'IPv6' ? 'udp6' : 'udp4' })
      try {
        const udp = await bindUdp(socket, address.host, tcp.port)
        const servedUdp = serveUdp(socket, pod)
        const servedTcp = serveTcp(server, pod)
        logger.info(
          { event: 'dns_listening', pod: pod.workloadUid, address: formatHostPort(address.host, tcp.port) },
          'DNS proxy listening',
        )
        return {
          udp,
          tcp,
          close: async () => {
            await Promise.all([servedUdp.close(), servedTcp.close()])
          },
        }
      } catch (err) {
        socket.close()
        await closeServer(server)
        if (address.port !== 0 || attempt >= 4) throw err
      }
    }
  }

  return {
    serveUdp,
    serveTcp,
    listen: listenBoth,
    handle,
    async close() {
      await Promise.all([...serving].map((s) => s.close()))
    },
  }
}

function bindUdp(socket: dgram.Socket, host: string, port: number): Promise<AddressInfo> {
  const where = formatHostPort(host, port)
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const code =
        err.code === 'EADDRINUSE'
          ? ListenErrorCode.addressInUse
          : err.code === 'EADDRNOTAVAIL'
            ? ListenErrorCode.addressUnavailable
            : ListenErrorCode.listenFailed
      reject(
        new AmbientError(code, `cannot listen on udp ${where}: ${err.message}`, {
          side: 'config',
          cause: err,
          details: { address: where },
        }),
      )
    }
    socket.once('error', onError)
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onError)
      resolve(socket.address())
    })
  })
}

/** ztunnel's per-query line (target `dns`, debug): who asked what, and what came of it. */
function accessLog(
  logger: Logger,
  client: Workload | undefined,
  pod: DnsPodContext,
  message: DnsMessage,
  result: string,
  endpoints: number,
): void {
  if (!logger.isLevelEnabled('debug')) return
  const question = message.questions[0]
  logger.debug(
    {
      'src.workload': client?.name ?? 'unknown',
      'src.namespace': client?.namespace ?? 'unknown',
      pod: pod.workloadUid,
      query: question === undefined ? undefined : typeName(question.type).toUpperCase(),
      domain: question?.name,
      result,
      endpoints,
    },
    'dns query',
  )
}
