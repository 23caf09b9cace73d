// A sidecar: one L4+L7 proxy per pod (Istio's sidecar mode, for comparison with ambient). It binds
// the pod IP: SOCKS5 15080 for the app's outbound (./outbound.ts), one listener per app port for
// inbound (./inbound.ts), metrics 15020 and readiness 15021 (the waypoint's admin). With in-pod
// capture it runs inside the pod's namespace: 15001 (outbound) and 15006 (inbound) on 0.0.0.0. The L7 work is
// the waypoint's pipeline and engines, reused; the wire between sidecars is mutual TLS on the
// connection (./mtls.ts), not HBONE. Identity: the pod's own, both ways.
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createSocks5Capture, SOCKS5_CAPTURE_PORT } from '../capture/socks5.js'
import type { BoundAddress, CapturedConnection } from '../capture/capture.js'
import { createRedirectCapture, originalDestination } from '../capture/inpod/redirect-capture.js'
import { INBOUND_PASSTHROUGH_SOURCE, SIDECAR_INBOUND_PORT, SIDECAR_OUTBOUND_PORT } from '../capture/inpod/sidecar-rules.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import type { SidecarConfig } from '../mesh/sidecar-config.js'
import { formatHostPort } from '../net/address.js'
import { connectTcp } from '../net/listen.js'
import { createProxyAdmin, type AdminAddresses, type AdminPorts } from '../l7/admin.js'
import { meshProxyDeps, type MeshProxy, type MeshProxyOptions } from '../l7/mesh-proxy.js'
import type { HttpProxyDeps } from '../l7/http-proxy.js'
import { createUpstreamConnections } from '../l7/upstream.js'
import { createHttpServing } from '../l7/http-serving.js'
import { createInbound } from './inbound.js'
import { connectMtls } from './mtls.js'
import { handleOutbound, outboundRequest, type OutboundHttpContext } from './outbound.js'
import { metadataHeaders } from './metadata-exchange.js'

export interface SidecarPorts extends AdminPorts {
  /** Default 15080. */
  readonly socks?: number
  /** In-pod: outbound and inbound redirect ports, default 15001 / 15006. */
  readonly outbound?: number
  readonly inboundRedirect?: number
  /** Where the inbound listener of an app port binds; default the app port itself. */
  readonly inbound?: (appPort: number) => number
}

/** `certificate`: the pod's identity (`config.identity`). */
export interface SidecarOptions extends MeshProxyOptions<SidecarConfig, SidecarPorts> {
  /**
   * `socks` (default): SOCKS5 on the pod IP, inbound listeners per app port, the app on its pod-local
   * address. `inpod`: the process runs inside the pod's network namespace behind
   * deploy/capture/sidecar-inpod.rules (as uid 1337): outbound on 0.0.0.0:15001 and inbound on
   * 0.0.0.0:15006, both REDIRECT'd (SO_ORIGINAL_DST), the app on the pod IP from 127.0.0.6.
   */
  readonly capture?: 'socks' | 'inpod'
}

export interface SidecarAddresses extends AdminAddresses {
  /** The outbound capture: SOCKS5 (socks) or the REDIRECT listener (inpod). */
  readonly socks: BoundAddress
  /** App port → bound inbound port. */
  readonly inbound: ReadonlyMap<number, number>
}

export type Sidecar = MeshProxy<SidecarConfig, SidecarAddresses>

export function createSidecar(options: SidecarOptions): Sidecar {
  const log = options.logger
  let config = options.config
  let certificate = options.certificate
  let listening = false
  const host = config.sidecar.pod.podIp

  const upstream = createUpstreamConnections({
    logger: log,
    source: () => certificate.identity,
    connectTimeoutMs: () => config.defaults.connectTimeoutMs,
    openTransport: (ep) =>
      ep.tunnelProtocol === 'NONE'
        ? connectTcp({ host: ep.address, port: ep.targetPort, connectTimeoutMs: config.defaults.connectTimeoutMs })
        : connectMtls({
            cert: certificate,
            host: ep.address,
            port: ep.targetPort,
            expected: SpiffeId.parse(ep.identity),
            connectTimeoutMs: config.defaults.connectTimeoutMs,
          }),
  })
  const deps: HttpProxyDeps = {
    ...meshProxyDeps(options, upstream),
    reporter: 'source',
    requestHeaders: () => metadataHeaders(config),
  }
  const http = createHttpServing<OutboundHttpContext>(
    outboundRequest(deps, () => config),
    log,
  )
  const flows = new Set<Duplex>()
  const inpod = options.capture === 'inpod'
  const onConnection = (conn: CapturedConnection): void =>
    handleOutbound(
      {
        ...deps,
        http,
        flows,
        config: () => config,
        openTransport: (ep) => upstream.openTransport(ep),
        self: () => ({ identity: certificate.identity, serialNumber: certificate.serialNumber, notAfter: certificate.notAfter }),
        ...(options.sniffTimeoutMs === undefined ? {} : { sniffTimeoutMs: options.sniffTimeoutMs }),
      },
      conn,
    )
  const capture = inpod
    ? createRedirectCapture({
        host: '0.0.0.0',
        port: options.ports?.outbound ?? SIDECAR_OUTBOUND_PORT,
        sourcePod: config.sidecar.pod.uid,
        logger: log,
        onConnection,
      })
    : createSocks5Capture({
        host,
        port: options.ports?.socks ?? SOCKS5_CAPTURE_PORT,
        sourcePod: config.sidecar.pod.uid,
        logger: log,
        onConnection,
      })
  const inbound = createInbound({
    config: () => config,
    certificate: () => certificate,
    metrics: options.metrics,
    logger: log,
    now: deps.now,
    ...(options.ports?.inbound === undefined ? {} : { listenPort: options.ports.inbound }),
    ...(inpod
      ? {
          redirect: {
            port: options.ports?.inboundRedirect ?? SIDECAR_INBOUND_PORT,
            appPort: (socket: Socket) => originalDestination(socket).port,
            appSource: INBOUND_PASSTHROUGH_SOURCE,
          },
        }
      : {}),
    ...(options.sniffTimeoutMs === undefined ? {} : { sniffTimeoutMs: options.sniffTimeoutMs }),
  })
  const pending = (): string[] => (listening ? [] : ['listeners not up'])
  const admin = createProxyAdmin({
    host,
    metrics: options.metrics,
    logger: log,
    pending,
    ...(options.ports === undefined ? {} : { ports: options.ports }),
  })
  const logConfig = (c: SidecarConfig): void =>
    log.info(
      {
        event: 'sidecar_config',
        pod: `${c.namespace}/${c.name}`,
        identity: c.identity,
        services: c.services.map((s) => s.hostname),
        clusters: c.clusters.map((cl) => `${cl.name}: ${cl.endpoints.length} endpoints`),
        inboundPorts: c.sidecar.ports.map((p) => `${p.port}/${p.protocol}`),
        policies: c.authorization.map((p) => `${p.namespace}/${p.name}`),
        peerAuthentication: c.sidecar.peerAuthentication.map((p) => `${p.namespace}/${p.name}`),
      },
      'sidecar config applied',
    )

  return {
    async start() {
      logConfig(config)
      const [socks] = await capture.start()
      try {
        const bound = await inbound.start()
        const addrs = await admin.start()
        listening = true
        log.info(
          {
            event: 'sidecar_started',
            [inpod ? 'outbound' : 'socks']: formatHostPort(inpod ? socks!.address : host, socks!.port),
            inbound: [...bound.values()],
            identity: certificate.identity.toString(),
          },
          'sidecar listening',
        )
        return { socks: socks!, inbound: bound, ...addrs }
      } catch (err) {
        await capture.close()
        await inbound.close()
        throw err
      }
    },
    updateConfig(next) {
      config = next
      logConfig(next)
      inbound.recheck()
      if (listening) void inbound.syncListeners()
    },
    updateCertificate(cert) {
      certificate = cert
      inbound.updateCertificate(cert)
    },
    pending,
    async close() {
      listening = false
      await capture.close()
      http.close()
      for (const f of flows) f.destroy()
      await inbound.close()
      await upstream.close()
      await admin.close()
    },
  }
}
