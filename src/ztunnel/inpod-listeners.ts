// The listeners ztunnel opens for one local pod in in-pod capture mode (ARCHITECTURE.md, "In-pod
// capture"): inside the pod's own network namespace, as Istio's ztunnel does, through the addon
// (src/capture/inpod/addon.ts: each socket is made by one synchronous setns → socket → setns back).
//
//   0.0.0.0:15008   HBONE, IP_TRANSPARENT (the pod's rules TPROXY port 15008 here)
//   0.0.0.0:15006   plaintext inbound, IP_TRANSPARENT (TPROXY'd: the accepted socket's local
//                   address is the original destination)
//   127.0.0.1:15001 outbound (REDIRECT'd: SO_ORIGINAL_DST gives the destination)
//   127.0.0.1:15053 DNS, UDP and TCP, when ztunnel runs its DNS proxy (src/ztunnel/dns)
//
// Sockets ztunnel opens for the pod (upstream legs, the app-facing leg) are made in the same
// namespace with mark 0x539, so the pod's rules let them through; the app-facing leg is bound
// (IP_TRANSPARENT) to the caller's address, so the app sees the source pod's IP as its peer.
import dgram from 'node:dgram'
import { existsSync } from 'node:fs'
import net, { type Server, type Socket } from 'node:net'
import { loadCaptureAddon, netnsPath, socketFd, socketFromFd, type NetnsRef } from '../capture/inpod/addon.js'
import { podNetnsName } from '../capture/inpod/netns.js'
import { ZTUNNEL_MARK } from '../capture/inpod/rules.js'
import { redirectedConnection } from '../capture/inpod/redirect-capture.js'
import type { CapturedConnection } from '../capture/capture.js'
import { AmbientError, errorMessage } from '../errors.js'
import { createHboneServer } from '../hbone/server.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import type { Workload } from '../mesh/types.js'
import type { DnsProxy } from './dns/proxy.js'
import { closeServer, createTcpServer, listenOnFd } from '../net/listen.js'
import { reset } from '../net/pipe.js'
import { INBOUND_PLAINTEXT_PORT, OUTBOUND_CAPTURE_PORT } from '../net/ports.js'
import type { Logger } from '../observability/logger.js'
import type { SocketAddress } from '../net/address.js'
import type { InboundContext } from './inbound.js'
import { hboneInbound, plaintextInbound } from './inbound.js'
import { podListenersHandle, type PodListeners } from './pod-listeners.js'

export const INPOD_OUTBOUND_PORT = OUTBOUND_CAPTURE_PORT
export const INPOD_INBOUND_PORT = INBOUND_PLAINTEXT_PORT

export const InpodErrorCode = {
  noNetns: 'ZTUNNEL_INPOD_NO_NETNS',
  /** The namespace exists but its loopback is not up yet (the runner or the CNI is still wiring it). */
  netnsNotWired: 'ZTUNNEL_INPOD_NETNS_NOT_WIRED',
} as const

/** Both mean "not yet": the pod is retried, and it does not hold up readiness (the CNI has not sent it). */
export function awaitingPodNetns(code: string): boolean {
  return code === InpodErrorCode.noNetns || code === InpodErrorCode.netnsNotWired
}

/**
 * A namespace is ready for ztunnel's sockets once its loopback address is up. Earlier, a bind to
 * 127.0.0.1 still succeeds (the namespace has no local routing table yet, so the kernel classes the
 * address as broadcast) but leaves the socket without a source address: its UDP replies then leave
 * from the pod IP and miss the REDIRECT's conntrack entry, and the app's resolver drops them. Pure.
 */
export function podNetnsWired(addresses: readonly string[], family: 4 | 6): boolean {
  return addresses.includes(family === 6 ? '::1' : '127.0.0.1')
}

export interface InpodCaptureOptions {
  /** Pod namespaces are `<prefix><namespace>.<pod>` under /run/netns (src/capture/inpod/netns.ts). */
  readonly netnsPrefix: string
}

/** The pod's network namespace as the listeners enter it, and the name their descriptions show. */
export interface PodNetns {
  readonly ref: NetnsRef
  readonly name: string
}

/** The runner's naming (`<prefix><namespace>.<pod>` under /run/netns); ZTUNNEL_INPOD_NO_NETNS until it exists. */
export function prefixedPodNetns(capture: InpodCaptureOptions, workload: Workload): PodNetns {
  const name = podNetnsName(capture.netnsPrefix, workload.namespace, workload.name)
  const path = netnsPath(name)
  if (!existsSync(path))
    throw new AmbientError(InpodErrorCode.noNetns, `pod network namespace ${name} does not exist (yet)`, { side: 'config' })
  return { ref: path, name }
}

export interface InpodListenersOptions {
  readonly workload: Workload
  readonly certificate: WorkloadCertificate
  readonly hbonePort: number
  readonly inbound: InboundContext
  readonly onOutbound: (connection: CapturedConnection) => void
  readonly logger: Logger
  readonly netns: PodNetns
  /** ztunnel's DNS proxy (src/ztunnel/dns): served on 127.0.0.1:<port> (15053) inside the pod. Absent: nothing listens there. */
  readonly dns?: { readonly proxy: DnsProxy; readonly port: number } | undefined
  readonly handshakeTimeoutMs?: number
}

export async function startInpodListeners(options: InpodListenersOptions): Promise<PodListeners> {
  const { workload, logger } = options
  const podIp = workload.addresses[0]
  if (podIp === undefined) throw new Error(`workload ${workload.namespace}/${workload.name} has no address`)
  const { ref: netns, name } = options.netns
  const addon = loadCaptureAddon()
  const family = net.isIPv6(podIp) ? 6 : 4
  if (!podNetnsWired(addon.interfaceAddresses(netns), family))
    throw new AmbientError(InpodErrorCode.netnsNotWired, `pod network namespace ${name} has no loopback address (yet)`, {
      side: 'config',
    })
  const any = family === 6 ? '::' : '0.0.0.0'
  const loopback = family === 6 ? '::1' : '127.0.0.1'
  const bound = new Map<string, string>()
  const upstreamSocket = (): Socket => socketFromFd(addon.socketTcp(netns, family, ZTUNNEL_MARK, false, '', 0))
  const appSocket = (src: SocketAddress): Socket => {
    const spoof = net.isIPv6(src.ip) === (family === 6)
    return socketFromFd(addon.socketTcp(netns, family, ZTUNNEL_MARK, spoof, spoof ? src.ip : '', 0))
  }
  const inbound: InboundContext = { ...options.inbound, appSocket, appOnPodIp: true }
  const servers: Server[] = []
  const closers: (() => Promise<void>)[] = []
  const hbone = createHboneServer({
    certificate: options.certificate,
    host: podIp,
    port: options.hbonePort,
    fd: addon.listenTcp(netns, any, options.hbonePort, 511, true),
    onConnect: hboneInbound(inbound, podIp),
    logger,
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
  })
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([hbone.close(), ...servers.map(closeServer), ...closers.map((c) => c())])
  }
  try {
    await hbone.start()
    bound.set('hbone', `${any}:${options.hbonePort} in ${name}`)

    const inboundServer = createTcpServer((socket) => {
      plaintextInbound(inbound, podIp, socket).catch((err: unknown) => {
        logger.error({ event: 'plaintext_inbound_failed', reason: errorMessage(err) }, 'inbound plaintext failed')
        socket.destroy()
      })
    })
    servers.push(inboundServer)
    await listenOnFd(inboundServer, { host: any, port: INPOD_INBOUND_PORT, fd: addon.listenTcp(netns, any, INPOD_INBOUND_PORT, 511, true) })
    bound.set('inbound', `${any}:${INPOD_INBOUND_PORT} in ${name}`)

    const outboundServer = createTcpServer((socket) => {
      socket.on('error', () => undefined)
      socket.pause()
      let dst: { ip: string; port: number }
      try {
        dst = addon.originalDst(socketFd(socket))
      } catch (err) {
        logger.warn({ event: 'inpod_no_original_dst', reason: errorMessage(err) }, 'captured connection without an original destination')
        reset(socket)
        return
      }
      options.onOutbound(redirectedConnection(socket, workload.uid, dst, upstreamSocket))
    })
    servers.push(outboundServer)
    await listenOnFd(outboundServer, {
      host: loopback,
      port: INPOD_OUTBOUND_PORT,
      fd: addon.listenTcp(netns, loopback, INPOD_OUTBOUND_PORT, 511, false),
    })
    bound.set('outbound', `${loopback}:${INPOD_OUTBOUND_PORT} in ${name}`)

    if (options.dns !== undefined) {
      // Both sockets made in the pod's namespace on its loopback (a DNS socket on 0.0.0.0 would not
      // see the REDIRECTed reply un-NATed), then handed to the one DNS proxy of this ztunnel.
      const port = options.dns.port
      const udpFd = addon.socketUdp(netns, loopback, port, ZTUNNEL_MARK)
      const udp = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.bind({ fd: udpFd }, () => {
          udp.off('error', reject)
          resolve()
        })
      })
      const udpServing = options.dns.proxy.serveUdp(udp, { workloadUid: workload.uid })
      closers.push(() => udpServing.close())
      const tcp = net.createServer({ allowHalfOpen: true, noDelay: true })
      const tcpServing = options.dns.proxy.serveTcp(tcp, { workloadUid: workload.uid })
      closers.push(() => tcpServing.close())
      await listenOnFd(tcp, { host: loopback, port, fd: addon.listenTcp(netns, loopback, port, 511, false) })
      bound.set('dns', `${loopback}:${port} in ${name}`)
    }
  } catch (err) {
    await closeAll()
    throw err
  }
  return podListenersHandle({ podIp, uid: workload.uid, bound, hbone, close: closeAll }, async () => {
    for (const server of servers) if (server.listening) server.close()
  })
}
