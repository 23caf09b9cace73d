// A waypoint: the L7 proxy for the services and workloads of one waypoint Gateway. It terminates
// HBONE on its pod IP (15008, its own identity), checks it serves the tunnel's `:authority`, applies
// L7 policy and routing per request, and re-originates HBONE to the chosen endpoint as itself.
// Metrics on 15020, readiness on 15021.
//
// Fail closed: until a config is loaded every tunnel is refused (503, `waypoint has no config`), so
// traffic meant to pass L7 policy never skips it.
import type { SpanSink } from '../l7/zipkin.js'
import type { AddressInfo } from 'node:net'
import { createHboneServer } from '../hbone/server.js'
import { createHbonePool } from '../hbone/pool.js'
import type { ConnectOutcome } from '../hbone/status.js'
import type { WaypointConfig } from '../mesh/waypoint-config.js'
import { formatHostPort } from '../net/address.js'
import type { RandomBytes } from '../observability/trace-context.js'
import { createProxyAdmin, type AdminAddresses, type AdminPorts } from '../l7/admin.js'
import { meshProxyDeps, type MeshProxy, type MeshProxyOptions } from '../l7/mesh-proxy.js'
import { resolveServedDestination } from '../l7/served-destination.js'
import { sourcePeer } from '../l7/telemetry.js'
import { createTunnelTerminator } from './tunnel-terminator.js'
import type { TunnelContext } from '../l7/http-proxy.js'
import { createUpstreamConnections } from '../l7/upstream.js'
import { HBONE_PORT } from '../net/ports.js'

type TunnelBase = Omit<TunnelContext, 'downstream'>

export interface WaypointPorts extends AdminPorts {
  /** Default 15008. */
  readonly hbone?: number
}

/**
 * `config`: null until the first config arrives (the waypoint then refuses every tunnel).
 * `certificate`: `spiffe://<td>/ns/<ns>/sa/<gateway name>`.
 */
export interface WaypointOptions extends MeshProxyOptions<WaypointConfig | null, WaypointPorts> {
  /** The waypoint's pod IP: every listener binds here. */
  readonly host: string
  readonly randomBytes?: RandomBytes
  /**
   * Where spans go when the config's Telemetry turns tracing on: a Zipkin file or collector
   * (src/l7/zipkin.ts); none → spans are not reported. The waypoint closes (flushes) it on
   * close. `ambient waypoint` makes it from --zipkin-file / --zipkin-url or AMBIENT_ZIPKIN_FILE / _URL.
   */
  readonly spans?: SpanSink
}

export interface WaypointAddresses extends AdminAddresses {
  readonly hbone: AddressInfo
}

export type Waypoint = MeshProxy<WaypointConfig, WaypointAddresses>

export function createWaypoint(options: WaypointOptions): Waypoint {
  const log = options.logger
  let config = options.config
  let certificate = options.certificate
  let listening = false
  // Upstream tunnels leave from the waypoint's pod IP, so destination ztunnels see the waypoint pod
  // as the source address (src.addr, source workload labels), as in a cluster.
  const hbonePool = createHbonePool({ certificates: [certificate], logger: log, localAddress: options.host })
  const upstream = createUpstreamConnections({
    hbone: hbonePool,
    logger: log,
    source: () => certificate.identity,
    connectTimeoutMs: () => config?.defaults.connectTimeoutMs ?? 10_000,
  })
  const spans = options.spans
  const rebased = new WeakMap<TunnelBase, { config: WaypointConfig; context: TunnelBase }>()
  const terminator = createTunnelTerminator(
    {
      ...meshProxyDeps(options, upstream),
      ...(options.randomBytes ? { randomBytes: options.randomBytes } : {}),
      ...(spans === undefined ? {} : { spans }),
      telemetry: () => config?.telemetry,
      openTransport: (ep) => upstream.openTransport(ep),
    },
    {
      logger: log,
      ...(options.sniffTimeoutMs === undefined ? {} : { sniffTimeoutMs: options.sniffTimeoutMs }),
      current: (base) => {
        const now = config
        if (now === null || now === base.config) return base
        // Resolved once per tunnel and config, so its requests share one context.
        const cached = rebased.get(base)
        if (cached !== undefined && cached.config === now) return cached.context
        const served = resolveServedDestination(now, base.target)
        // No longer served: the tunnel keeps what it was opened with until it closes.
        const context = served.ok ? { ...base, config: now, destination: served.destination } : base
        rebased.set(base, { config: now, context })
        return context
      },
    },
  )

  const server = createHboneServer({
    certificate,
    host: options.host,
    port: options.ports?.hbone ?? config?.hbonePort ?? HBONE_PORT,
    logger: log,
    onConnect(request): ConnectOutcome {
      const current = config
      if (current === null) return { kind: 'unavailable', reason: 'waypoint has no config yet' }
      const served = resolveServedDestination(current, request.authority)
      if (!served.ok) return { kind: 'bad-request', reason: served.reason }
      const baggage = request.headers.baggage
      const tunnel = {
        config: current,
        destination: served.destination,
        target: request.authority,
        peer: request.peer,
        sourceIp: request.remoteAddress,
        source: sourcePeer({
          addr: formatHostPort(request.remoteAddress, request.remotePort),
          identity: request.peer.identity,
          baggageHeader: Array.isArray(baggage) ? baggage.join(',') : baggage,
        }),
      }
      return { kind: 'accept', serve: (stream) => terminator.serve(stream, tunnel), cancel: () => undefined }
    },
  })

  const pending = (): string[] => {
    const out: string[] = []
    if (config === null) out.push('config not loaded')
    if (!listening) out.push('HBONE listener not up')
    return out
  }
  const admin = createProxyAdmin({
    host: options.host,
    metrics: options.metrics,
    logger: log,
    pending,
    ...(options.ports === undefined ? {} : { ports: options.ports }),
  })

  const logConfig = (c: WaypointConfig): void => {
    log.info(
      {
        event: 'waypoint_config',
        name: `${c.namespace}/${c.name}`,
        identity: c.identity,
        services: c.services.map(
          (s) => `${s.hostname} (${s.addresses.join(',')}) ports ${s.ports.map((p) => `${p.port}/${p.protocol}`).join(',')}`,
        ),
        workloads: c.workloads.map((w) => w.uid),
        clusters: c.clusters.map((cl) => `${cl.name}: ${cl.endpoints.length} endpoints`),
        policies: c.authorization.length + c.services.reduce((n, s) => n + s.authorization.length, 0),
      },
      'waypoint config applied',
    )
  }

  return {
    async start() {
      if (config) logConfig(config)
      const hbone = await server.start()
      listening = true
      try {
        const addrs = await admin.start()
        log.info(
          { event: 'waypoint_started', hbone: formatHostPort(hbone.address, hbone.port), identity: certificate.identity.toString() },
          'waypoint listening',
        )
        return { hbone, ...addrs }
      } catch (err) {
        await server.close()
        listening = false
        throw err
      }
    },
    updateConfig(next) {
      config = next
      logConfig(next)
    },
    updateCertificate(cert) {
      certificate = cert
      server.updateCertificate(cert)
      hbonePool.updateCertificate(cert)
    },
    pending,
    async close() {
      listening = false
      terminator.close()
      await server.close()
      await upstream.close()
      await hbonePool.close()
      await admin.close()
      await spans?.close()
    },
  }
}
