// A standalone ztunnel process, wired: mesh state from ztunnel's local config file (istiod's Delta
// xDS is the other source, later), certificates from a CA directory, the proxy, and the node's admin
// endpoints. The CLI parses flags into these options and waits for a stop signal; tests call this
// directly with port 0.
import { AmbientError } from '../errors.js'
import { openMeshCa } from '../identity/ca.js'
import { createCertificateManager, type CertificateManager } from '../identity/cert-manager.js'
import { caSigner } from '../identity/signer.js'
import { LocalConfigSource, type ConfigReport } from '../mesh/config-source.js'
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

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const logger = options.logger
  const mesh = new MeshState()
  const source = new LocalConfigSource({ file: options.configFile, state: mesh })
  let loaded = false
  const onReport = (report: ConfigReport): void => {
    if (report.outcome === 'applied') loaded = true
    for (const e of report.errors) logger.error({ event: 'config_error', code: e.code, file: e.file, path: e.path, line: e.line }, e.reason)
    if (report.errors.length > 0 && loaded) logger.warn({ event: 'config_partial', errors: report.errors.length, outcome: report.outcome }, report.outcome === 'kept' ? 'config unreadable: keeping the last good state' : 'config has errors: the valid entries apply')
    else if (report.counts) logger.info({ event: 'config_loaded', file: report.file, ...report.counts }, 'config loaded')
  }
  source.on('report', onReport)
  await source.start()
  // At start, a config with errors is refused whole, every error listed: the user fixes it now.
  const first = source.lastReport
  if (first && first.errors.length > 0) {
    await source.close()
    throw new AmbientError(DaemonErrorCode.invalidConfig, `${options.configFile} has ${first.errors.length} error(s):\n${first.errors.map((e) => `  ${e.file}:${e.line ?? '?'} ${e.path}: [${e.code}] ${e.reason}`).join('\n')}`, { side: 'config', details: { errors: first.errors } })
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
