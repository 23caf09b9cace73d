// A standalone sidecar process, wired to istiod (its only source): its SidecarConfig from Delta ADS
// (the WaypointConfig type, resource `sidecar/<ns>/<pod>`; other resources of that type are carried
// opaquely and never judged, so a bad one for another proxy never NACKs ours), the pod's certificate
// from istiod's CA with the token of the pod's node, and the sidecar listening on the pod IP the
// config names. A refused config NACKs with the reason and the last good one keeps being served;
// losing istiod changes nothing.
import { readFile } from 'node:fs/promises'
import { AmbientError, errorMessage } from '../errors.js'
import { cleanUpOnFailure, proxyFeed, startFromIstiod, type ProxyFromIstiod } from '../l7/mesh-proxy.js'
import { createCertificateManager, type CertificateManager } from '../identity/cert-manager.js'
import { DEFAULT_TRUST_DOMAIN } from '../identity/spiffe-id.js'
import { sidecarResourceName, type SidecarConfig } from '../mesh/sidecar-config.js'
import { childLogger, type Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import type { BackoffOptions } from '../xds/backoff.js'
import { createCaClient } from '../xds/ca-client.js'
import { TYPE_URL, decodeWaypointConfig } from '../xds/convert.js'
import { createDeltaAdsClient, type DeltaBatch } from '../xds/delta-client.js'
import { parseSidecarConfig } from './config.js'
import { SidecarErrorCode } from './mtls.js'
import { createSidecar, type Sidecar, type SidecarAddresses, type SidecarPorts } from './sidecar.js'

export interface XdsSidecarOptions {
  /** istiod's `host:port` (15012). */
  readonly target: string
  readonly rootCertFile: string
  /**
   * A node token for the xDS stream (`<istiod state>/tokens/<node>.token`). istiod serves every
   * authenticated client all resources, so any node's will do when the pod's node is not known yet.
   */
  readonly tokenFile: string
  /** The node id sent to istiod. */
  readonly node: string
  /**
   * The token file of the node the config places the pod on, for the CA (which signs a pod's
   * identity only for its node). Default: `tokenFile`.
   */
  readonly caTokenFile?: (podNode: string) => string
  readonly namespace: string
  readonly pod: string
  readonly trustDomain?: string
  readonly ports?: SidecarPorts
  readonly logger: Logger
  readonly metrics: Metrics
  /** How long to wait for the first config. Default: as long as it takes. */
  readonly initialTimeoutMs?: number
  readonly backoff?: BackoffOptions
  readonly sniffTimeoutMs?: number
  /** `inpod`: inside the pod's namespace behind the sidecar rules (src/sidecar/sidecar.ts). */
  readonly capture?: 'socks' | 'inpod'
}

export interface XdsSidecar extends ProxyFromIstiod<SidecarConfig, SidecarAddresses> {
  readonly sidecar: Sidecar
  readonly certificates: CertificateManager
}

interface Resource {
  readonly name: string
  readonly decode: () => SidecarConfig
}

export async function startXdsSidecar(options: XdsSidecarOptions): Promise<XdsSidecar> {
  const log = options.logger
  const xlog = childLogger(log, 'xds')
  const td = options.trustDomain ?? DEFAULT_TRUST_DOMAIN
  const tls = { rootCertPem: await readFile(options.rootCertFile, 'utf8'), serverIdentity: `spiffe://${td}/ns/istio-system/sa/istiod` }
  const token = async (): Promise<string> => (await readFile(options.tokenFile, 'utf8')).trim()
  const resource = sidecarResourceName(options.namespace, options.pod)
  const feed = proxyFeed<SidecarConfig, SidecarAddresses>()
  let first: (() => void) | undefined

  const handler = (batch: DeltaBatch<{ config: Resource }>): Error | undefined => {
    const ours = batch.upserts.find((u) => u.name === resource)
    if (ours === undefined) return undefined
    let c: SidecarConfig
    try {
      c = ours.value.decode()
      if (c.name !== options.pod || c.namespace !== options.namespace)
        throw new AmbientError(SidecarErrorCode.configInvalid, `${resource}: the document is for ${c.namespace}/${c.name}`, {
          side: 'config',
        })
    } catch (err) {
      xlog.error(
        { event: 'sidecar_config_rejected', resource, err: errorMessage(err) },
        'refused the config from istiod; keeping the last good one',
      )
      return err instanceof Error ? err : new Error(errorMessage(err))
    }
    xlog.info({ event: 'sidecar_config_received', resource, version: ours.version }, 'config from istiod')
    feed.update(c)
    first?.()
    return undefined
  }
  const client = createDeltaAdsClient<{ config: Resource }>({
    target: options.target,
    tls,
    token,
    nodeId: options.node,
    logger: log,
    handler,
    types: {
      config: {
        typeUrl: TYPE_URL.waypointConfig,
        decode(bytes) {
          try {
            const r = decodeWaypointConfig(bytes)
            const name = `${r.namespace}/${r.name}`
            return { name, decode: () => parseSidecarConfig(JSON.stringify(r.document), name) }
          } catch (err) {
            return {
              name: '',
              decode: () => {
                throw err
              },
            }
          }
        },
      },
    },
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
  })
  // The CA token follows the pod's node once the config names it.
  let caTokenFile = options.tokenFile
  const signer = createCaClient({ target: options.target, tls, token: async () => (await readFile(caTokenFile, 'utf8')).trim() })
  const certificates = createCertificateManager({ signer, logger: childLogger(log, 'cert') })
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled([feed.proxy?.close(), client.close(), certificates.close()])
    signer.close()
  }
  return cleanUpOnFailure('sidecar', log, cleanup, async () => {
    const arrived = new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      first = () => {
        first = undefined
        clearTimeout(timer)
        resolve()
      }
      if (options.initialTimeoutMs !== undefined) {
        timer = setTimeout(
          () =>
            reject(
              new AmbientError(
                SidecarErrorCode.noConfig,
                `no config ${resource} from istiod at ${options.target} after ${options.initialTimeoutMs} ` +
                  `ms${client.lastError === undefined ? '' : ` (${client.lastError})`}`,
                { side: 'upstream' },
              ),
            ),
          options.initialTimeoutMs,
        ).unref()
      }
    })
    client.start()
    await arrived
    if (options.caTokenFile !== undefined) caTokenFile = options.caTokenFile(feed.latest!.sidecar.pod.node)
    const { proxy, ...started } = await startFromIstiod(options, feed, certificates, cleanup, (base) =>
      createSidecar({
        ...base,
        ...(options.sniffTimeoutMs === undefined ? {} : { sniffTimeoutMs: options.sniffTimeoutMs }),
        ...(options.capture === undefined ? {} : { capture: options.capture }),
      }),
    )
    log.info(
      {
        event: 'sidecar_xds',
        target: options.target,
        node: options.node,
        pod: `${options.namespace}/${options.pod}`,
        identity: started.identity.toString(),
      },
      'sidecar connected to istiod',
    )
    return { sidecar: proxy, certificates, ...started }
  })
}
