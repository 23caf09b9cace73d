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
import { AmbientError } from '../errors.js'
import { cleanUpOnFailure, proxyFeed, startFromIstiod, type ProxyFromIstiod } from '../l7/mesh-proxy.js'
import { createCertificateManager, type CertificateManager } from '../identity/cert-manager.js'
import { DEFAULT_TRUST_DOMAIN } from '../identity/spiffe-id.js'
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

export interface XdsWaypoint extends ProxyFromIstiod<WaypointConfig, WaypointAddresses> {
  readonly waypoint: Waypoint
  readonly source: XdsConfigSource
  readonly certificates: CertificateManager
  readonly host: string
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
  const feed = proxyFeed<WaypointConfig, WaypointAddresses>()
  const signer = createCaClient({ target: options.target, tls, token })
  const certificates = createCertificateManager({
    signer,
    logger: childLogger(log, 'cert'),
    ...(options.certificateTtlMs === undefined ? {} : { ttlMs: options.certificateTtlMs }),
  })
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled([feed.proxy?.close(), source.close(), certificates.close()])
    signer.close()
  }
  return cleanUpOnFailure('waypoint', log, cleanup, async () => {
    await source.start((c) => feed.update(c))
    if (feed.latest === undefined) throw new AmbientError(L7ErrorCode.configInvalid, 'no waypoint config delivered', { side: 'config' })
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
    const { proxy, ...started } = await startFromIstiod(options, feed, certificates, cleanup, (base) =>
      createWaypoint({ ...base, host, ...(options.spans === undefined ? {} : { spans: options.spans }) }),
    )
    log.info(
      {
        event: 'waypoint_xds',
        target: options.target,
        node: options.node,
        host,
        identity: started.identity.toString(),
        podFromIstiod: pod?.uid,
      },
      'waypoint connected to istiod',
    )
    return { waypoint: proxy, source, certificates, host, ...started }
  })
}
