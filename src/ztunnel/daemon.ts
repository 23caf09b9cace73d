// A standalone ztunnel process, wired: mesh state and certificates either from a local config file
// and a CA directory, or from istiod (`xds`: Delta ADS for the state, istiod's CA service for the
// certificates, asking on behalf of each local pod); then the proxy and the node's admin endpoints.
// The CLI parses flags into these options and waits for a stop signal; tests call this directly
// with port 0.
//
// Each source's modules are imported only when that source is used (issue 14, RSS): the xDS and CA
// clients (gRPC, protobuf), the local config file (YAML) and CA, ZDS and the node agent. A ztunnel
// holds in memory only the code of the mode it runs in (gRPC + protobufjs ≈ 6-9 MB, YAML ≈ 4 MB).
import { readFile } from 'node:fs/promises'
import { AmbientError, errorMessage } from '../errors.js'
import { createCertificateManager, type CertificateManager } from '../identity/cert-manager.js'
import type { CertificateSigner } from '../identity/signer.js'
import { DEFAULT_TRUST_DOMAIN } from '../identity/spiffe-id.js'
import type { MeshDelta, MeshSnapshot } from '../mesh/change.js'
import type { ConfigReport } from '../mesh/config-source.js'
import type { ConfigError } from '../mesh/local-config.js'
import { MeshState } from '../mesh/state.js'
import { childLogger, type Logger } from '../observability/logger.js'
import type { BackoffOptions } from '../xds/backoff.js'
import { createAdminServers, type AdminServers } from './admin.js'
import type { XdsSource } from './xds-source.js'
import { createZtunnel, type Ztunnel, type ZtunnelOptions } from './ztunnel.js'
import { DNS_PROXY_PORT } from './dns/proxy.js'
import { createUdpUpstream, type DnsUpstream, type UpstreamServer } from './dns/upstream.js'
import { createWorkloadManager, type WorkloadManager } from './workload-manager.js'
import type { ZdsClient } from './zds.js'
import { loadCaptureAddon } from '../capture/inpod/addon.js'
import type { KubeClient } from '../kube/client.js'
import type { NodeAgent } from './node-agent.js'

export const DaemonErrorCode = {
  invalidConfig: 'ZTUNNEL_CONFIG_INVALID',
  badOptions: 'ZTUNNEL_OPTIONS_INVALID',
} as const

/** istiod as the source of state and certificates. */
export interface DaemonXdsOptions {
  /** istiod's `host:port` (15012). */
  readonly target: string
  /** This node's bearer token (re-read on every connection, so it may rotate). */
  readonly tokenFile: string
  /** The mesh root (istiod's `<state dir>/ca/root-cert.pem`): trusted for 15012. */
  readonly rootCertFile: string
  /** The SAN istiod must present. Default `spiffe://<trust domain>/ns/istio-system/sa/istiod`. */
  readonly serverIdentity?: string
  /** istiod's CA `host:port` (Istio's CA_ADDRESS). Default: target. */
  readonly caTarget?: string
  /** Root for the CA's certificate (Istio's CA_ROOT_CA). Default: rootCertFile. */
  readonly caRootCertFile?: string
  /** As Istio's ztunnel introduces itself (src/xds/node-id.ts). Default: the node name, no metadata. */
  readonly nodeId?: string
  readonly nodeMetadata?: Readonly<Record<string, string>>
  /** Sent as the `clusterid` header on xDS and CA calls. */
  readonly clusterId?: string
  /**
   * How long start waits for the first state. Default 10 s; past it the daemon starts anyway,
   * not ready, and keeps reconnecting (a ztunnel that starts before istiod is normal).
   */
  readonly initialSyncTimeoutMs?: number
  readonly backoff?: BackoffOptions
}

export interface DaemonOptions {
  readonly node: string
  readonly nodeIp: string
  /** Local mode: the config file (with caDir). */
  readonly configFile?: string
  readonly caDir?: string
  /** xDS mode: state and certificates from istiod; configFile and caDir are not used. */
  readonly xds?: DaemonXdsOptions
  readonly trustDomain?: string
  readonly logger: Logger
  readonly ports?: {
    readonly hbone?: number
    readonly socks?: number
    readonly admin?: number
    readonly metrics?: number
    readonly readiness?: number
  }
  readonly certificateTtlMs?: number
  /** In-pod capture: listeners inside each pod's netns (`<prefix><ns>.<pod>`); default socks. */
  readonly capture?: ZtunnelOptions['capture']
  /**
   * In-pod capture with the pods handed over as ZDS does (src/ztunnel/workload-manager.ts): `uds` =
   * connect to istio-cni's socket (Istio's INPOD_UDS) and take add/keep/del from it; `agent` = an
   * in-process node agent feeds `Daemon.workloads` (src/ztunnel/node-agent.ts). Replaces `capture`.
   */
  readonly zds?: {
    readonly uds?: string
    /** The in-process node agent instead of istio-cni: pods of this node from the API server. */
    /** hostNetns: the node's namespace for the kubelet probe SNAT (NodeAgentOptions.hostNetns). */
    readonly nodeAgent?: { readonly client: KubeClient; readonly hostNetns?: string }
    readonly backoff?: BackoffOptions
  }
  readonly onQuit?: () => void
  /** The DNS proxy on each local pod (`<pod IP>:15053` by default); upstream empty = NXDOMAIN for the rest. */
  readonly dns?: {
    readonly port?: number
    readonly upstream?: readonly UpstreamServer[]
    readonly upstreamTimeoutMs?: number
  }
}

export interface Daemon {
  readonly ztunnel: Ztunnel
  readonly mesh: MeshState
  readonly certificates: CertificateManager
  /** The istiod connection, in xDS mode. */
  readonly xds: XdsSource | undefined
  /** With `zds`: the pods captured in-pod (the ZDS client feeds it; a node agent may too). */
  readonly workloads: WorkloadManager | undefined
  /** With `zds.uds`: the connection to istio-cni. */
  readonly zdsClient: ZdsClient | undefined
  readonly addresses: { admin: string; metrics: string; readiness: string }
  drain(deadlineMs: number): Promise<void>
  close(): Promise<void>
}

/** What the last load of the config file did, for /config_dump. */
export interface ConfigStatus {
  readonly file: string
  /** 'applied': the file is the state; 'rejected': it had errors, the last good state is served. */
  readonly outcome: 'applied' | 'rejected'
  readonly errors: readonly ConfigError[]
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const logger = options.logger
  const mesh = new MeshState()
  const feed = options.xds !== undefined ? await xdsFeed(options, options.xds, mesh) : await localFeed(options, mesh)
  const certificates = createCertificateManager({
    signer: feed.signer,
    logger: childLogger(logger, 'cert'),
    ...(options.certificateTtlMs === undefined ? {} : { ttlMs: options.certificateTtlMs }),
  })
  const dnsUpstream: DnsUpstream | undefined =
    options.dns?.upstream === undefined || options.dns.upstream.length === 0
      ? undefined
      : createUdpUpstream({
          servers: options.dns.upstream,
          ...(options.dns.upstreamTimeoutMs === undefined ? {} : { timeoutMs: options.dns.upstreamTimeoutMs }),
        })
  const workloads =
    options.zds === undefined
      ? undefined
      : createWorkloadManager({ closeFd: (fd) => loadCaptureAddon().close(fd), logger: childLogger(logger, 'zds') })
  const capture = workloads === undefined ? options.capture : { kind: 'zds' as const, workloads }
  const ztunnel = createZtunnel({
    node: options.node,
    mesh,
    certificates,
    logger,
    ports: {
      ...(options.ports?.hbone === undefined ? {} : { hbone: options.ports.hbone }),
      ...(options.ports?.socks === undefined ? {} : { socks: options.ports.socks }),
    },
    ...(capture === undefined ? {} : { capture }),
    ...(options.dns === undefined ? {} : { dns: { port: options.dns.port ?? DNS_PROXY_PORT, upstream: dnsUpstream } }),
  })
  const dnsConfig =
    options.dns === undefined ? {} : { dns: { port: options.dns.port ?? DNS_PROXY_PORT, upstream: dnsUpstream?.servers ?? [] } }
  const zdsConfig = options.zds === undefined ? {} : { inpodUds: options.zds.uds ?? '(in-process node agent)' }
  const config = { node: options.node, nodeIp: options.nodeIp, ...feed.describe, ports: options.ports ?? {}, ...dnsConfig, ...zdsConfig }
  logger.info({ event: 'effective_config', ...config }, 'ztunnel starting')
  const admin: AdminServers = createAdminServers({
    host: options.nodeIp,
    ports: { admin: options.ports?.admin ?? 15000, metrics: options.ports?.metrics ?? 15020, readiness: options.ports?.readiness ?? 15021 },
    ztunnel,
    mesh,
    certificates,
    logger: childLogger(logger, 'admin'),
    config,
    stateLoaded: () => feed.loaded(),
    configStatus: () => feed.status(),
    onQuit: options.onQuit ?? (() => undefined),
  })
  let bound
  let zdsClient: ZdsClient | undefined
  let nodeAgent: NodeAgent | undefined
  try {
    bound = await admin.start()
    await ztunnel.start()
    // As Istio's ztunnel: connect to istio-cni's socket and keep reconnecting (with backoff) while it is away.
    const uds = options.zds?.uds
    if (workloads !== undefined && uds !== undefined) {
      const addon = loadCaptureAddon()
      const [{ startZdsClient }, { seqpacketZdsTransport }] = await Promise.all([import('./zds.js'), import('./zds-seqpacket.js')])
      zdsClient = startZdsClient({
        path: uds,
        transport: seqpacketZdsTransport(addon),
        workloads,
        closeFd: (fd) => addon.close(fd),
        logger: childLogger(logger, 'zds'),
        ...(options.zds?.backoff === undefined ? {} : { backoff: options.zds.backoff }),
      })
    }
    const kube = options.zds?.nodeAgent
    if (workloads !== undefined && kube !== undefined) {
      const agentLog = childLogger(logger, 'node-agent')
      const { startNodeAgent } = await import('./node-agent.js')
      nodeAgent = startNodeAgent({
        client: kube.client,
        node: options.node,
        workloads,
        ...(kube.hostNetns === undefined ? {} : { hostNetns: kube.hostNetns }),
        onError: (err) => agentLog.warn({ event: 'node_agent_error', err: errorMessage(err) }, 'node agent step failed'),
      })
    }
  } catch (err) {
    await Promise.allSettled([admin.close(), ztunnel.close(), feed.close(), certificates.close(), dnsUpstream?.close()])
    workloads?.close()
    throw err
  }
  const fmt = (a: { address: string; port: number }): string => `${a.address}:${a.port}`
  const failed = ztunnel.pods().filter((p) => p.state === 'failed')
  if (failed.length > 0)
    logger.error(
      { event: 'pods_failed', pods: failed.map((p) => `${p.namespace}/${p.name}: ${p.error ?? ''}`) },
      'some pods could not be served',
    )
  logger.info(
    {
      event: 'ztunnel_ready',
      pods: ztunnel.pods().length,
      admin: fmt(bound.admin),
      metrics: fmt(bound.metrics),
      readiness: fmt(bound.readiness),
    },
    'ztunnel ready',
  )
  let closed: Promise<void> | undefined
  return {
    ztunnel,
    mesh,
    certificates,
    xds: feed.xds,
    workloads,
    zdsClient,
    addresses: { admin: fmt(bound.admin), metrics: fmt(bound.metrics), readiness: fmt(bound.readiness) },
    drain: (deadlineMs) => ztunnel.drain(deadlineMs),
    close() {
      closed ??= (async () => {
        await nodeAgent?.stop()
        await zdsClient?.close()
        await feed.close()
        await ztunnel.close()
        workloads?.close()
        await admin.close()
        await certificates.close()
        await dnsUpstream?.close()
      })()
      return closed
    },
  }
}

/** Where state and certificates come from, as the rest of the daemon sees it. */
interface StateFeed {
  readonly signer: CertificateSigner
  /** Shown in the effective config (and /config_dump's `config`). */
  readonly describe: Record<string, unknown>
  readonly xds: XdsSource | undefined
  loaded(): boolean
  status(): unknown
  close(): Promise<void>
}

async function localFeed(options: DaemonOptions, mesh: MeshState): Promise<StateFeed> {
  const logger = options.logger
  if (options.configFile === undefined || options.caDir === undefined) {
    throw new AmbientError(DaemonErrorCode.badOptions, 'a ztunnel needs either a config file and a CA directory, or istiod (xds)', {
      side: 'config',
    })
  }
  const configFile = options.configFile
  const [{ LocalConfigSource }, { openMeshCa }, { caSigner }] = await Promise.all([
    import('../mesh/config-source.js'),
    import('../identity/ca.js'),
    import('../identity/signer.js'),
  ])
  // The source applies a file's valid entries even when others are bad; ztunnel's rule here is
  // stricter (the reference: "a config with errors → exit at start; on reload, keep the last good
  // state and report"), so the source writes into this staging slot and onReport decides.
  let staged: MeshSnapshot | undefined
  const staging = {
    replaceAll(snapshot: MeshSnapshot): MeshDelta {
      staged = snapshot
      const none = { added: [], updated: [], removed: [] }
      return { version: mesh.version, workloads: none, services: none, policies: none }
    },
  }
  const source = new LocalConfigSource({ file: configFile, state: staging })
  let loaded = false
  let status: ConfigStatus | undefined
  const onReport = (report: ConfigReport): void => {
    const snapshot = staged
    staged = undefined
    for (const e of report.errors) logger.error({ event: 'config_error', code: e.code, file: e.file, path: e.path, line: e.line }, e.reason)
    status = { file: report.file, outcome: report.errors.length === 0 && snapshot ? 'applied' : 'rejected', errors: report.errors }
    if (report.errors.length > 0) {
      // At start there is no good state yet: the file is refused below.
      if (loaded)
        logger.warn(
          { event: 'config_rejected', file: report.file, errors: report.errors.length },
          'config has errors: keeping the last good state',
        )
      return
    }
    if (snapshot === undefined) return
    mesh.replaceAll(snapshot)
    loaded = true
    if (report.counts) logger.info({ event: 'config_loaded', file: report.file, ...report.counts }, 'config loaded')
  }
  source.on('report', onReport)
  await source.start()
  // At start, a config with errors is refused whole, every error listed: the user fixes it now.
  const first = source.lastReport
  if (first && first.errors.length > 0) {
    await source.close()
    throw new AmbientError(
      DaemonErrorCode.invalidConfig,
      `${configFile} has ${first.errors.length} error(s):\n` +
        `${first.errors.map((e) => `  ${e.file}:${e.line ?? '?'} ${e.path || '(file)'}: [${e.code}] ${e.reason}`).join('\n')}`,
      { side: 'config', details: { errors: first.errors } },
    )
  }
  let ca
  try {
    ca = await openMeshCa({ dir: options.caDir, ...(options.trustDomain === undefined ? {} : { trustDomain: options.trustDomain }) })
  } catch (err) {
    await source.close()
    throw err
  }
  return {
    signer: caSigner(ca),
    describe: { configFile: source.file, caDir: options.caDir, trustDomain: ca.trustDomain },
    xds: undefined,
    loaded: () => loaded,
    status: () => status,
    close: () => source.close(),
  }
}

async function xdsFeed(options: DaemonOptions, xds: DaemonXdsOptions, mesh: MeshState): Promise<StateFeed> {
  const logger = options.logger
  const [{ createXdsSource }, { createCaClient }, { CLUSTER_ID_HEADER }] = await Promise.all([
    import('./xds-source.js'),
    import('../xds/ca-client.js'),
    import('../xds/node-id.js'),
  ])
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN
  const rootCertPem = await readFile(xds.rootCertFile, 'utf8')
  const serverIdentity = xds.serverIdentity ?? `spiffe://${trustDomain}/ns/istio-system/sa/istiod`
  const tls = { rootCertPem, serverIdentity }
  const caTls = xds.caRootCertFile === undefined ? tls : { rootCertPem: await readFile(xds.caRootCertFile, 'utf8'), serverIdentity }
  const token = async (): Promise<string> => (await readFile(xds.tokenFile, 'utf8')).trim()
  const headers = xds.clusterId === undefined ? undefined : { [CLUSTER_ID_HEADER]: xds.clusterId }
  const source = createXdsSource({
    target: xds.target,
    tls,
    token,
    nodeId: xds.nodeId ?? options.node,
    mesh,
    logger,
    ...(xds.nodeMetadata === undefined ? {} : { nodeMetadata: xds.nodeMetadata }),
    ...(headers === undefined ? {} : { headers }),
    ...(xds.backoff === undefined ? {} : { backoff: xds.backoff }),
  })
  const signer = createCaClient({ target: xds.caTarget ?? xds.target, tls: caTls, token, ...(headers === undefined ? {} : { headers }) })
  try {
    await source.start({ timeoutMs: xds.initialSyncTimeoutMs ?? 10_000 })
  } catch (err) {
    // Not fatal: readiness says "state not loaded" and the client keeps reconnecting with backoff.
    logger.warn({ event: 'xds_not_synced', target: xds.target, err: errorMessage(err) }, 'starting without state from istiod; still trying')
  }
  return {
    signer,
    describe: { xds: xds.target, tokenFile: xds.tokenFile, rootCertFile: xds.rootCertFile, trustDomain },
    xds: source,
    loaded: () => source.synced,
    status: () => source.status(),
    async close() {
      await source.close()
      signer.close()
    },
  }
}
