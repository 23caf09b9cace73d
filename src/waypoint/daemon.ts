// A standalone waypoint process, wired: its config and certificate either from a WaypointConfig
// JSON file and a local CA directory, or from istiod (`xds`, ./xds-waypoint.ts: Delta xDS for the
// config, istiod's CA for the certificate); then the proxy and its admin endpoints. The CLI parses
// flags into these options and waits for a stop signal; tests call this or the parts directly.
//
// Each mode's modules are imported only when that mode runs (issue 14, RSS): the local CA (which
// issues with @peculiar/x509, ≈ 15 MB) and the config file reader in local mode; the xDS and CA
// clients (gRPC, protobufjs) in istiod mode, which reads its own certificate with node:crypto.
import { AmbientError } from '../errors.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import type { WaypointConfig } from '../mesh/waypoint-config.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { L7ErrorCode } from '../l7/errors.js'
import type { SpanSink } from '../l7/zipkin.js'
import type { WaypointPorts } from './waypoint.js'
import type { XdsWaypointOptions } from './xds-waypoint.js'

/** Local mode: the config file and the CA directory that issues the waypoint's certificate. */
export interface WaypointDaemonLocalOptions {
  readonly configFile: string
  readonly caDir: string
}

/** istiod as the source of config and certificate (see XdsWaypointOptions). */
export type WaypointDaemonXdsOptions = Omit<XdsWaypointOptions, 'name' | 'namespace' | 'host' | 'ports' | 'logger' | 'metrics' | 'spans'>

export interface WaypointDaemonOptions {
  /** The waypoint (Gateway) name and namespace; its identity is `ns/<namespace>/sa/<name>`. */
  readonly name: string
  readonly namespace: string
  readonly local?: WaypointDaemonLocalOptions
  readonly xds?: WaypointDaemonXdsOptions
  /** Where every listener binds. Local default 127.0.0.1; xDS default the pod IP istiod gives. */
  readonly host?: string
  /** Local mode: the HBONE port defaults to the config's `hbonePort`. */
  readonly ports?: WaypointPorts
  readonly logger: Logger
  readonly metrics: Metrics
  readonly spans?: SpanSink
}

export interface WaypointDaemon {
  close(): Promise<void>
}

export async function startWaypointDaemon(options: WaypointDaemonOptions): Promise<WaypointDaemon> {
  const { name, namespace, logger, metrics } = options
  const common = {
    logger,
    metrics,
    ...(options.spans === undefined ? {} : { spans: options.spans }),
  }
  if (options.xds !== undefined) {
    const { startXdsWaypoint } = await import('./xds-waypoint.js')
    const running = await startXdsWaypoint({
      ...options.xds,
      ...common,
      name,
      namespace,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.ports === undefined ? {} : { ports: options.ports }),
    })
    return { close: () => running.close() }
  }
  if (options.local === undefined)
    throw new AmbientError(L7ErrorCode.configInvalid, 'a waypoint needs a config file and a CA directory, or istiod', { side: 'config' })
  const [{ openMeshCa }, { fileConfigSource }, { createWaypoint }] = await Promise.all([
    import('../identity/ca.js'),
    import('./config-source.js'),
    import('./waypoint.js'),
  ])
  const ca = await openMeshCa({ dir: options.local.caDir })
  const source = fileConfigSource(options.local.configFile)
  let first: WaypointConfig | undefined
  await source.start((c) => {
    first = c
  })
  if (first === undefined) throw new AmbientError(L7ErrorCode.configInvalid, 'no waypoint config delivered', { side: 'config' })
  if (first.name !== name || first.namespace !== namespace) {
    throw new AmbientError(L7ErrorCode.configInvalid, `config is for waypoint ${first.namespace}/${first.name}, not ${namespace}/${name}`, {
      side: 'config',
    })
  }
  const identity = SpiffeId.of({ trustDomain: ca.trustDomain, namespace, serviceAccount: name })
  const waypoint = createWaypoint({
    ...common,
    config: first,
    certificate: await ca.issue(identity),
    host: options.host ?? '127.0.0.1',
    ports: { hbone: first.hbonePort, ...options.ports },
  })
  await waypoint.start()
  return {
    async close() {
      await waypoint.close()
      await source.close()
    },
  }
}
