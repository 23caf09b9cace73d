// A standalone ztunnel process, wired: mesh state from ztunnel's local config file (istiod's Delta
// xDS is the other source, later), certificates from a CA directory, the proxy, and the node's admin
// endpoints. The CLI parses flags into these options and waits for a stop signal; tests call this
// directly with port 0.
import { AmbientError } from '../errors.js'
import { openMeshCa } from '../identity/ca.js'
import { createCertificateManager, type CertificateManager } from '../identity/cert-manager.js'
import { caSigner } from '../identity/signer.js'
import type { MeshDelta, MeshSnapshot } from '../mesh/change.js'
import { LocalConfigSource, type ConfigReport } from '../mesh/config-source.js'
import type { ConfigError } from '../mesh/local-config.js'
import { MeshState } from '../mesh/state.js'
import { childLogger, type Logger } from '../observability/logger.js'
import { createAdminServers, type AdminServers } from './admin.js'
import { createZtunnel, type Ztunnel } from './ztunnel.js'

export const DaemonErrorCode = {
  invalidConfig: 'ZTUNNEL_CONFIG_INVALID',
} as const

export interface DaemonOptions {
  readonly node: string
  readonly nodeIp: string
  readonly configFile: string
  readonly caDir: string
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
  readonly onQuit?: () => void
}

export interface Daemon {
  readonly ztunnel: Ztunnel
  readonly mesh: MeshState
  readonly certificates: CertificateManager
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
  const source = new LocalConfigSource({ file: options.configFile, state: staging })
  let loaded = false
  let status: ConfigStatus | undefined
  const onReport = (report: ConfigReport): void => {
    const snapshot = staged
    staged = undefined
    for (const e of report.errors) logger.error({ event: 'config_error', code: e.code, file: e.file, path: e.path, line: e.line }, e.reason)
    status = { file: report.file, outcome: report.errors.length === 0 && snapshot ? 'applied' : 'rejected', errors: report.errors }
    if (report.errors.length > 0) {
      // At start there is no good state yet: startDaemon refuses the file below.
      if (loaded) logger.warn({ event: 'config_rejected', file: report.file, errors: report.errors.length }, 'config has errors: keeping the last good state')
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
    throw new AmbientError(DaemonErrorCode.invalidConfig, `${options.configFile} has ${first.errors.length} error(s):\n${first.errors.map((e) => `  ${e.file}:${e.line ?? '?'} ${e.path || '(file)'}: [${e.code}] ${e.reason}`).join('\n')}`, { side: 'config', details: { errors: first.errors } })
  }

  const ca = await openMeshCa({ dir: options.caDir, ...(options.trustDomain === undefined ? {} : { trustDomain: options.trustDomain }) })
  const certificates = createCertificateManager({
    signer: caSigner(ca),
    logger: childLogger(logger, 'cert'),
    ...(options.certificateTtlMs === undefined ? {} : { ttlMs: options.certificateTtlMs }),
  })
  const ztunnel = createZtunnel({
    node: options.node, mesh, certificates, logger,
    ports: { ...(options.ports?.hbone === undefined ? {} : { hbone: options.ports.hbone }), ...(options.ports?.socks === undefined ? {} : { socks: options.ports.socks }) },
  })
  const config = { node: options.node, nodeIp: options.nodeIp, configFile: source.file, caDir: options.caDir, trustDomain: ca.trustDomain, ports: options.ports ?? {} }
  logger.info({ event: 'effective_config', ...config }, 'ztunnel starting')
  const admin: AdminServers = createAdminServers({
    host: options.nodeIp,
    ports: { admin: options.ports?.admin ?? 15000, metrics: options.ports?.metrics ?? 15020, readiness: options.ports?.readiness ?? 15021 },
    ztunnel, mesh, certificates, logger: childLogger(logger, 'admin'), config,
    stateLoaded: () => loaded,
    configStatus: () => status,
    onQuit: options.onQuit ?? (() => undefined),
  })
  let bound
  try {
    bound = await admin.start()
    await ztunnel.start()
  } catch (err) {
    await Promise.allSettled([admin.close(), ztunnel.close(), source.close(), certificates.close()])
    throw err
  }
  const fmt = (a: { address: string; port: number }): string => `${a.address}:${a.port}`
  const failed = ztunnel.pods().filter((p) => p.state === 'failed')
  if (failed.length > 0) logger.error({ event: 'pods_failed', pods: failed.map((p) => `${p.namespace}/${p.name}: ${p.error ?? ''}`) }, 'some pods could not be served')
  logger.info({ event: 'ztunnel_ready', pods: ztunnel.pods().length, admin: fmt(bound.admin), metrics: fmt(bound.metrics), readiness: fmt(bound.readiness) }, 'ztunnel ready')
  let closed: Promise<void> | undefined
  return {
    ztunnel, mesh, certificates,
    addresses: { admin: fmt(bound.admin), metrics: fmt(bound.metrics), readiness: fmt(bound.readiness) },
    drain: (deadlineMs) => ztunnel.drain(deadlineMs),
    close() {
      closed ??= (async () => {
        await source.close()
        await ztunnel.close()
        await admin.close()
        await certificates.close()
      })()
      return closed
    },
  }
}
