// The waypoint's second config source: istiod's Delta ADS. It subscribes to the WaypointConfig type
// (an emulator extension: one `namespace/name` resource per waypoint Gateway) and to Address (to find
// the waypoint's own pod: its IP is where the waypoint listens, its node is whose token it uses).
//
// Invariants (the WaypointConfigSource contract, config-source.ts):
//  - only this waypoint's resource (`<namespace>/<name>`) is looked at; other waypoints' resources
//    are carried opaquely, so a bad resource for another waypoint never NACKs ours;
//  - ours is validated with parseWaypointConfig (unknown apiVersion, wrong shape): a refused config
//    NACKs the response with the reason and the last good config keeps being served;
//  - losing istiod changes nothing: the last config is served until a reconnect resyncs; a removal
//    of our resource (the Gateway was deleted) is logged and the last config kept: stopping the
//    waypoint is the operator's (Kubernetes') job, not the config source's.
import { AmbientError, errorMessage } from '../errors.js'
import type { Workload } from '../mesh/types.js'
import type { WaypointConfig } from '../mesh/waypoint-config.js'
import { childLogger, type Logger } from '../observability/logger.js'
import type { BackoffOptions } from '../xds/backoff.js'
import type { TokenSource } from '../xds/bearer-headers.js'
import { ADDRESS_DECODER, TYPE_URL, decodeWaypointConfig, type AddressResource } from '../xds/convert.js'
import { createDeltaAdsClient, deltaConnection, type DeltaAdsClient, type DeltaBatch, type DeltaClientStats } from '../xds/delta-client.js'
import type { ChannelTls } from '../xds/channel-tls.js'
import { parseWaypointConfig } from '../l7/waypoint-config.js'
import type { WaypointConfigSource } from './config-source.js'
import { L7ErrorCode } from '../l7/errors.js'

export interface XdsConfigSourceOptions {
  /** istiod's `host:port` (15012). */
  readonly target: string
  readonly tls: ChannelTls
  /** The token of the node the waypoint's pod is on (re-read on every connection). */
  readonly token: TokenSource
  /** The node id sent to istiod (the node name). */
  readonly nodeId: string
  /** The waypoint Gateway. */
  readonly name: string
  readonly namespace: string
  readonly logger: Logger
  readonly backoff?: BackoffOptions
  /** How long start() waits for the first config; undefined: as long as it takes. */
  readonly initialTimeoutMs?: number
}

export interface XdsConfigSourceStatus {
  readonly source: 'xds'
  readonly target: string
  readonly resource: string
  readonly state: DeltaAdsClient['state']
  /** Whether a config for this waypoint has been delivered. */
  readonly loaded: boolean
  readonly lastError: string | undefined
  /** Why the last push of our resource was refused, if it was. */
  readonly lastRejection: string | undefined
  readonly stats: DeltaClientStats
}

export interface XdsConfigSource extends WaypointConfigSource {
  /**
   * The waypoint's own pod as istiod's Address resources describe it: the workload named like the
   * Gateway, in its namespace, with the Gateway's name as service account and no pod-local address
   * (istiod's translation of a waypoint Gateway). Known once start() resolved, if istiod has it.
   */
  pod(): Workload | undefined
  status(): XdsConfigSourceStatus
}

export const XdsConfigSourceErrorCode = {
  syncTimeout: 'WAYPOINT_XDS_SYNC_TIMEOUT',
} as const

/** Our resource decoded lazily: other waypoints' resources are never judged. */
interface WaypointResource {
  readonly name: string
  readonly decode: () => WaypointConfig
}
type Types = { address: AddressResource; waypoint: WaypointResource }

function isOwnPod(w: Workload, name: string, namespace: string): boolean {
  return w.name === name && w.namespace === namespace && w.serviceAccount === name && w.podLocalAddress === undefined
}

export function xdsConfigSource(options: XdsConfigSourceOptions): XdsConfigSource {
  const log = childLogger(options.logger, 'xds')
  const resource = `${options.namespace}/${options.name}`
  /** Candidate pods by resource name (uid), for removals. */
  const pods = new Map<string, Workload>()
  const received = new Set<keyof Types>()
  let delivered: WaypointConfig | undefined
  let lastRejection: string | undefined
  let onConfig: ((c: WaypointConfig) => void) | undefined
  let ready: (() => void) | undefined
  let warnedMissing = false

  const checkReady = (): void => {
    if (delivered !== undefined && received.has('address')) ready?.()
  }

  const handler = (batch: DeltaBatch<Types>): Error | undefined => {
    if (batch.kind === 'address') {
      for (const uid of batch.removals) pods.delete(uid)
      for (const u of batch.upserts) {
        if (u.value.kind === 'workload' && isOwnPod(u.value.value, options.name, options.namespace)) pods.set(u.name, u.value.value)
        else pods.delete(u.name)
      }
      received.add('address')
      checkReady()
      return undefined
    }
    received.add('waypoint')
    if (batch.removals.includes(resource)) {
      log.warn({ event: 'waypoint_config_removed', resource }, "istiod no longer serves this waypoint's config; keeping the last one")
    }
    const ours = batch.upserts.find((u) => u.name === resource)
    if (ours === undefined) {
      if (delivered === undefined && !warnedMissing) {
        warnedMissing = true
        log.warn(
          { event: 'waypoint_config_missing', resource, served: batch.upserts.map((u) => u.name) },
          'istiod serves no config for this waypoint (yet)',
        )
      }
      return undefined
    }
    let config: WaypointConfig
    try {
      config = ours.value.decode()
      if (config.name !== options.name || config.namespace !== options.namespace) {
        throw new AmbientError(L7ErrorCode.configInvalid, `${resource}: the document is for ${config.namespace}/${config.name}`, {
          side: 'config',
        })
      }
    } catch (err) {
      lastRejection = errorMessage(err)
      log.error(
        { event: 'waypoint_config_rejected', resource, version: ours.version, err: lastRejection },
        'refused the config from istiod; keeping the last good one',
      )
      return err instanceof Error ? err : new Error(lastRejection)
    }
    lastRejection = undefined
    delivered = config
    log.info({ event: 'waypoint_config_received', resource, version: ours.version }, 'config from istiod')
    onConfig?.(config)
    checkReady()
    return undefined
  }

  const client = createDeltaAdsClient<Types>({
    ...deltaConnection(options),
    types: {
      address: ADDRESS_DECODER,
      waypoint: {
        typeUrl: TYPE_URL.waypointConfig,
        // Never throws: a resource that does not decode is only refused if it turns out to be ours
        // (the handler looks resources up by their xDS name, not by what they decode to).
        decode(bytes) {
          let r: ReturnType<typeof decodeWaypointConfig>
          try {
            r = decodeWaypointConfig(bytes)
          } catch (err) {
            return {
              name: '',
              decode: () => {
                throw err
              },
            }
          }
          const where = `WaypointConfig ${r.namespace}/${r.name}`
          return { name: `${r.namespace}/${r.name}`, decode: () => parseWaypointConfig(JSON.stringify(r.document), where) }
        },
      },
    },
    handler,
  })

  const pod = (): Workload | undefined => [...pods.values()].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0))[0]

  return {
    start(deliver) {
      onConfig = deliver
      const first = new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined
        ready = () => {
          ready = undefined
          clearTimeout(timer)
          resolve()
        }
        if (options.initialTimeoutMs !== undefined) {
          timer = setTimeout(() => {
            ready = undefined
            const why =
              lastRejection ?? client.lastError ?? (received.has('waypoint') ? `istiod serves no WaypointConfig ${resource}` : undefined)
            reject(
              new AmbientError(
                XdsConfigSourceErrorCode.syncTimeout,
                `no config for waypoint ${resource} from istiod at ${options.target} after ${options.initialTimeoutMs} ms` +
                  `${why === undefined ? '' : ` (${why})`}`,
                { side: 'upstream' },
              ),
            )
          }, options.initialTimeoutMs)
          timer.unref()
        }
      })
      if (delivered !== undefined) deliver(delivered)
      client.start()
      checkReady()
      return first
    },
    pod,
    status: () => ({
      source: 'xds',
      target: options.target,
      resource,
      state: client.state,
      loaded: delivered !== undefined,
      lastError: client.lastError,
      lastRejection,
      stats: client.stats(),
    }),
    close: () => client.close(),
  }
}
