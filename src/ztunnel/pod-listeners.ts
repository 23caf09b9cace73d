// The listeners ztunnel opens for one local pod in socks mode, all on the pod's IP (architecture.md,
// addressing): HBONE on 15008 (server certificate = the pod's identity), SOCKS5 on 15080 for the
// pod's outbound traffic, and one plaintext listener per app port (inbound passthrough), which
// forwards to the app's pod-local address. Without a pod-local address there is no plaintext
// listener: the app owns the pod IP's ports, and binding them would loop. Optionally the DNS proxy
// on 15053 (UDP and TCP), for the pod: in socks mode it answers `dig @<pod IP> -p 15053`; in-pod
// capture binds it on 127.0.0.1 inside the pod instead.
import type { Server, Socket } from 'node:net'
import type { Capture, CapturedConnection } from '../capture/capture.js'
import { createSocks5Capture } from '../capture/socks5.js'
import { errorMessage } from '../errors.js'
import type { HboneServer } from '../hbone/server.js'
import { createHboneServer } from '../hbone/server.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import type { MeshView, Workload } from '../mesh/types.js'
import { closeServer, createTcpServer, listen } from '../net/listen.js'
import type { Logger } from '../observability/logger.js'
import type { InboundContext } from './inbound.js'
import { hboneInbound, plaintextInbound } from './inbound.js'
import { isProxyPort } from '../net/ports.js'
import type { DnsListener, DnsProxy } from './dns/proxy.js'

export interface PodListenerPorts {
  readonly hbone: number
  readonly socks: number
}

export interface PodListenersOptions {
  readonly workload: Workload
  readonly certificate: WorkloadCertificate
  readonly ports: PodListenerPorts
  readonly inbound: InboundContext
  readonly onOutbound: (connection: CapturedConnection) => void
  readonly logger: Logger
  readonly handshakeTimeoutMs?: number
  /** Serve DNS for this pod on `<pod IP>:<port>`. */
  readonly dns?: { readonly proxy: DnsProxy; readonly port: number } | undefined
}

export interface PodListeners {
  readonly podIp: string
  readonly uid: string
  /** What is bound, for readiness and config dumps: `hbone`, `socks`, `plaintext:<port>`, `dns`. */
  readonly bound: ReadonlyMap<string, string>
  updateCertificate(cert: WorkloadCertificate): void
  /**
   * Drain: no listener takes anything new (HBONE: listener closed, GOAWAY, late CONNECTs refused;
   * SOCKS and plaintext: listeners closed), while live flows keep going. close() still follows.
   */
  stopAccepting(): Promise<void>
  /** Stops accepting on every listener; live flows are the drain's. */
  close(): Promise<void>
}

/** The ports a pod's app serves: its Service target ports (the endpoint map, else the Service's). */
export function appPorts(mesh: MeshView, workload: Workload): number[] {
  const ports = new Set<number>()
  for (const [key, mappings] of workload.services) {
    const service = mesh.serviceByKey(key)
    for (const m of mappings) {
      const fromService = service?.ports.find((p) => p.servicePort === m.servicePort)?.targetPort
      const port = m.targetPort || fromService || m.servicePort
      if (port > 0 && !isProxyPort(port)) ports.add(port)
    }
  }
  return [...ports].sort((a, b) => a - b)
}

export async function startPodListeners(options: PodListenersOptions): Promise<PodListeners> {
  const { workload, inbound, logger } = options
  const podIp = workload.addresses[0]
  if (podIp === undefined) throw new Error(`workload ${workload.namespace}/${workload.name} has no address`)
  const bound = new Map<string, string>()
  const hbone: HboneServer = createHboneServer({
    certificate: options.certificate,
    host: podIp,
    port: options.ports.hbone,
    onConnect: hboneInbound(inbound, podIp),
    logger,
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
  })
  const socks: Capture = createSocks5Capture({
    host: podIp,
    port: options.ports.socks,
    sourcePod: workload.uid,
    onConnection: options.onOutbound,
    logger,
  })
  const plaintext: Server[] = []
  let dns: DnsListener | undefined
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([hbone.close(), socks.close(), ...plaintext.map(closeServer), dns?.close()])
  }
  try {
    const h = await hbone.start()
    bound.set('hbone', `${podIp}:${h.port}`)
    const [s] = await socks.start()
    bound.set('socks', `${podIp}:${s?.port ?? options.ports.socks}`)
    if (workload.podLocalAddress !== undefined) {
      for (const port of appPorts(inbound.mesh, workload)) {
        const server = createTcpServer((socket: Socket) => {
          plaintextInbound(inbound, podIp, socket).catch((err: unknown) => {
            logger.error({ event: 'plaintext_inbound_failed', reason: errorMessage(err) }, 'inbound plaintext failed')
            socket.destroy()
          })
        })
        plaintext.push(server)
        await listen(server, { host: podIp, port })
        bound.set(`plaintext:${port}`, `${podIp}:${port}`)
      }
    }
    if (options.dns !== undefined) {
      dns = await options.dns.proxy.listen({ host: podIp, port: options.dns.port }, { workloadUid: workload.uid })
      bound.set('dns', `${podIp}:${dns.udp.port}`)
    }
  } catch (err) {
    await closeAll()
    throw err
  }
  return podListenersHandle({ podIp, uid: workload.uid, bound, hbone, close: closeAll }, async () => {
    // Not closeServer: a net.Server's close callback waits for its live connections, the drain's.
    for (const server of plaintext) if (server.listening) server.close()
    await Promise.all([socks.close(), dns?.close()])
  })
}

/**
 * The handle of a pod's opened listeners (socks or in-pod): HBONE stops accepting first, then
 * `stopOthers` stops the rest from taking anything new.
 */
export function podListenersHandle(
  parts: Pick<PodListeners, 'podIp' | 'uid' | 'bound' | 'close'> & { readonly hbone: HboneServer },
  stopOthers: () => Promise<void>,
): PodListeners {
  const { hbone, ...rest } = parts
  return {
    ...rest,
    updateCertificate: (cert) => hbone.updateCertificate(cert),
    async stopAccepting() {
      hbone.stopAccepting()
      await stopOthers()
    },
  }
}
