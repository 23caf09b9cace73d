// A waypoint wired to istiod: config from Delta ADS (xds-config-source.ts), certificates from
// istiod's CA (the certificate manager with the CA client as signer, renewing and pushing rotations
// into the waypoint), listeners on the waypoint pod's IP. `ambient waypoint --xds` and the tests use
// this; it holds no policy of its own.
//
// Where the waypoint listens (`host`): given, or else the pod IP istiod's translation gave the
// waypoint's pod, read from the Address resources on the same ADS stream (the workload named like
// the Gateway, with the Gateway's name as service account; see XdsConfigSource.pod). The Address
// resource also names the pod's node: a waypoint started with another node's token is refused up
// front, since istiod's CA would refuse to sign its identity for that node anyway.
import type { SpanSink } from '../l7/zipkin.js'
import { readFile } from 'node:fs/promises'
import { AmbientError, errorMessage } from '../errors.js'
import { createCertificateManager, onCertificate, type CertificateManager } from '../identity/cert-manager.js'
import { DEFAULT_TRUST_DOMAIN, SpiffeId } from '../identity/spiffe-id.js'
import type { WaypointConfig } from '../mesh/waypoint-config.js'
import { childLogger, type Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import type { BackoffOptions } from '../xds/backoff.js'
import { createCaClient } from '../xds/ca-client.js'
import { L7ErrorCode } from '../l7/errors.js'
import { createWaypoint, type Waypoint, type WaypointAddresses, type WaypointPorts } from './waypoint.js'
import { xdsConfigSource, type XdsConfigSource } from './xds-config-source.js'

export const XdsWaypointErrorCode = {
  noHost: 'WAYPOINT_NO_POD_IP',
  wrongNode: 'WAYPOINT_WRONG_NODE',
} as const

export interface XdsWaypointOptions {
  /** istiod's `host:port` (15012). */
  readonly target: string
  /** The mesh root istiod serves 15012 with (`<istiod state>/ca/root-cert.pem`). */
  readonly rootCertFile: string
  /** The token of the waypoint pod's node (`<istiod state>/tokens/<node>.token`), re-read per connection. */
  readonly tokenFile: string
  readonly node: string
  readonly name: string
  readonly namespace: string
  /** Default: the waypoint pod's IP as istiod's Address resources give it. */
  readonly host?: string
  /** Used for istiod's serving identity; the waypoint's own comes from its config. Default cluster.local. */
  readonly trustDomain?: string
  /** Default `spiffe://<trust domain>/ns/istio-system/sa/istiod`. */
  readonly serverIdentity?: string
  readonly ports?: WaypointPorts
  readonly logger: Logger
  readonly metrics: Metrics
  /** How long to wait for the first config. Default: as long as it takes. */
  readonly initialTimeoutMs?: number
  readonly backoff?: BackoffOptions
  readonly certificateTtlMs?: number
  /** Passed to the waypoint (src/waypoint/waypoint.ts `spans`). */
  readonly spans?: SpanSink
}

export interface XdsWaypoint {
  readonly waypoint: Waypoint
  readonly source: XdsConfigSource
  readonly certificates: CertificateManager
  readonly identity: SpiffeId
  readonly host: string
  readonly addresses: WaypointAddresses
  /** The config being served now. */
  config(): WaypointConfig
  close(): Promise<void>
}

export async function startXdsWaypoint(options: XdsWaypointOptions): Promise<XdsWaypoint> {
  const log = options.logger
  const td = options.trustDomain ?? DEFAULT_TRUST_DOMAIN
  const tls = {
    rootCertPem: await readFile(options.rootCertFile, 'utf8'),
    serverIdentity: options.serverIdentity ?? `spiffe://${td}/ns/istio-system/sa/istiod`,
  }
  const token = async (): Promise<string> => (await readFile(options.tokenFile, 'utf8')).trim()
  const source = xdsConfigSource({
    target: options.target,
    tls,
    token,
    nodeId: options.node,
    name: options.name,
    namespace: options.namespace,
    logger: log,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(options.initialTimeoutMs === undefined ? {} : { initialTimeoutMs: options.initialTimeoutMs }),
  })
  let latest: WaypointConfig | undefined
  let waypoint: Waypoint | undefined
  const signer = createCaClient({ target: options.target, tls, token })
  const certificates = createCertificateManager({
    signer,
    logger: childLogger(log, 'cert'),
    ...(options.certificateTtlMs === undefined ? {} : { ttlMs: options.certificateTtlMs }),
  })
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled([waypoint?.close(), source.close(), certificates.close()])
    signer.close()
  }
  try {
    await source.start((c) => {
      latest = c
      waypoint?.updateConfig(c)
    })
    const config = latest
    if (config === undefined) throw new AmbientError(L7ErrorCode.configInvalid, 'no waypoint config delivered', { side: 'config' })
    const pod = source.pod()
    if (pod !== undefined && pod.node !== '' && pod.node !== options.node) {
      throw new AmbientError(
        XdsWaypointErrorCode.wrongNode,
        `waypoint ${options.namespace}/${options.name} runs on ${pod.node}, not ${options.node}: start it ` +
          `with ${pod.node}'s token (istiod's CA signs its identity only for that node)`,
        { side: 'config' },
      )
    }
    const host = options.host ?? pod?.addresses[0]
    if (host === undefined) {
      throw new AmbientError(
        XdsWaypointErrorCode.noHost,
        `istiod serves no pod for waypoint ${options.namespace}/${options.name}; give the address to listen on (--host)`,
        { side: 'config' },
      )
    }
    const identity = SpiffeId.parse(config.identity)
    const certificate = await certificates.get(identity)
    const wp = createWaypoint({
      config,
      certificate,
      host,
      logger: log,
      metrics: options.metrics,
      ...(options.ports === undefined ? {} : { ports: options.ports }),
      ...(options.spans === undefined ? {} : { spans: options.spans }),
    })
    waypoint = wp
    // A config that arrived while the certificate was fetched.
    if (latest !== undefined && latest !== config) wp.updateConfig(latest)
    const unsubscribe = onCertificate(certificates, identity, (c) => wp.updateCertificate(c))
    const addresses = await wp.start()
    log.info(
      { event: 'waypoint_xds', target: options.target, node: options.node, host, identity: identity.toString(), podFromIstiod: pod?.uid },
      'waypoint connected to istiod',
    )
    let closing: Promise<void> | undefined
    return {
      waypoint: wp,
      source,
      certificates,
      identity,
      host,
      addresses,
      config: () => latest ?? config,
      close: () => (closing ??= (unsubscribe(), cleanup())),
    }
  } catch (err) {
    log.error({ event: 'waypoint_xds_failed', err: errorMessage(err) }, 'waypoint could not start from istiod')
    await cleanup()
    throw err
  }
}
