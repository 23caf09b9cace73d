// What the two L7 proxies of the mesh — the waypoint (src/waypoint) and the sidecar (src/sidecar) —
// share as processes: their lifecycle (start, config and certificate pushed in, readiness, close),
// and the last steps of one wired to istiod (a config that arrived meanwhile, certificate rotations,
// one close for the proxy and its xDS and CA clients, and the cleanup when starting fails).
import { epochNow } from '../clock.js'
import { errorMessage } from '../errors.js'
import { onCertificate, type CertificateManager } from '../identity/cert-manager.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { newRequestId } from '../observability/trace-context.js'
import type { Random } from '../random.js'
import type { HttpProxyDeps } from './http-proxy.js'
import type { UpstreamConnections } from './upstream.js'
import { createUpstreamState } from './upstream-state.js'

/** A proxy serving config `C`, listening on `A` once started. */
export interface MeshProxy<C, A> {
  start(): Promise<A>
  updateConfig(config: C): void
  updateCertificate(cert: WorkloadCertificate): void
  /** What keeps the proxy from being ready (empty = ready). */
  pending(): string[]
  close(): Promise<void>
}

/** What either proxy is made with (each adds its own), for config `C` and ports `P`. */
export interface MeshProxyOptions<C, P> {
  readonly config: C
  /** The proxy's identity (the config's). */
  readonly certificate: WorkloadCertificate
  readonly ports?: P
  readonly logger: Logger
  readonly metrics: Metrics
  readonly random?: Random
  /** Milliseconds since the epoch. */
  readonly now?: () => number
  /** Undeclared ports: how long to wait for bytes that say HTTP before treating a connection as TCP. */
  readonly sniffTimeoutMs?: number
}

/** Milliseconds since the epoch: the proxies' default clock. */
export type MeshProxyDeps = Pick<HttpProxyDeps, 'upstream' | 'state' | 'metrics' | 'logger' | 'random' | 'now' | 'newRequestId'>

/**
 * The request engine's dependencies, made alike by both proxies: `upstream` with its health and
 * balancing state on the options' clock and randomness (defaults: the wall clock, Math.random),
 * their metrics and logger, and random request ids.
 */
export function meshProxyDeps(options: MeshProxyOptions<unknown, unknown>, upstream: UpstreamConnections): MeshProxyDeps {
  const now = options.now ?? epochNow
  const random = options.random ?? Math.random
  const logger = options.logger
  return {
    upstream,
    state: createUpstreamState({ now, random, logger }),
    metrics: options.metrics,
    logger,
    random,
    now,
    newRequestId,
  }
}

/** A started proxy fed by istiod, as `startFromIstiod` leaves it. */
export interface ProxyFromIstiod<C, A> {
  readonly identity: SpiffeId
  readonly addresses: A
  /** The config being served now. */
  config(): C
  /** Closes the proxy and its istiod clients, once (later calls share the first). */
  close(): Promise<void>
}

/** The proxy a daemon feeds from istiod (once made), and the newest config istiod sent. */
export interface ProxyFeed<C, A> {
  latest: C | undefined
  proxy: MeshProxy<C, A> | undefined
  /** A config from istiod: kept, and pushed into the proxy when there is one. */
  update(config: C): void
}

export function proxyFeed<C, A>(): ProxyFeed<C, A> {
  const feed: ProxyFeed<C, A> = {
    latest: undefined,
    proxy: undefined,
    update(config: C): void {
      feed.latest = config
      feed.proxy?.updateConfig(config)
    },
  }
  return feed
}

/** What the daemons pass on to the proxy they make, from their own options. */
export interface ProxyFromIstiodOptions<P> {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly ports?: P
}

/**
 * Makes the proxy (`create`, over the options both proxies take) once the feed has a config, with
 * the certificate of the config's identity, and starts it with every rotation of that certificate
 * and any newer config pushed into it. `cleanup` closes the proxy and the xDS and CA clients.
 */
export async function startFromIstiod<C extends { readonly identity: string }, A, P>(
  options: ProxyFromIstiodOptions<P>,
  feed: ProxyFeed<C, A>,
  certificates: CertificateManager,
  cleanup: () => Promise<void>,
  create: (base: MeshProxyOptions<C, P>) => MeshProxy<C, A>,
): Promise<ProxyFromIstiod<C, A> & { readonly proxy: MeshProxy<C, A> }> {
  const config = feed.latest
  if (config === undefined) throw new Error('startFromIstiod: no config from istiod yet')
  const identity = SpiffeId.parse(config.identity)
  const certificate = await certificates.get(identity)
  const { logger, metrics } = options
  const proxy = create({ config, certificate, logger, metrics, ...(options.ports === undefined ? {} : { ports: options.ports }) })
  feed.proxy = proxy
  // A config that arrived while the certificate was fetched.
  const newest = feed.latest
  if (newest !== undefined && newest !== config) proxy.updateConfig(newest)
  const unsubscribe = onCertificate(certificates, identity, (c) => proxy.updateCertificate(c))
  const addresses = await proxy.start()
  let closing: Promise<void> | undefined
  return {
    proxy,
    identity,
    addresses,
    config: () => feed.latest ?? config,
    close: () => (closing ??= (unsubscribe(), cleanup())),
  }
}

/**
 * Runs `start` for a proxy named `kind` (`sidecar`, `waypoint`); when it fails, logs
 * `<kind>_xds_failed`, runs `cleanup` and rethrows.
 */
export async function cleanUpOnFailure<T>(kind: string, log: Logger, cleanup: () => Promise<void>, start: () => Promise<T>): Promise<T> {
  try {
    return await start()
  } catch (err) {
    log.error({ event: `${kind}_xds_failed`, err: errorMessage(err) }, `${kind} could not start from istiod`)
    await cleanup()
    throw err
  }
}
