// istiod, composed: the config directory → translation → analysis → Delta ADS providers → push, the
// CA on the same gRPC port (15012), and the debug/metrics port (15014). Every part is its own
// module; this file only wires them and owns the order of a config change:
//
//   directory change → translate (with the previous allocations, so pods keep their IPs)
//     → analyze (logged; served on /debug/analysis) → providers swap (re-encoding only what changed)
//     → server.push() of the types that changed
//
// Invariants:
//  - a config change never crashes istiod: if translation throws, the last good translation stays
//    served and the failure is reported as an analysis message (IST0001);
//  - the parser already keeps a file's last good objects while it has YAML syntax errors, so a
//    half-saved file never empties the mesh;
//  - the CA signs an identity for a node only while the served translation schedules a pod with that
//    identity on that node (Istio's node authorizer).
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { AmbientError, errorMessage } from '../errors.js'
import type { KubeClient } from '../kube/client.js'
import type { Workload } from '../mesh/types.js'
import { childLogger, type Logger } from '../observability/logger.js'
import { createCaService } from '../xds/ca-service.js'
import { createDeltaAdsServer, type DeltaAdsStatus } from '../xds/delta-server.js'
import { startGrpcServer, type GrpcServer } from '../xds/grpc-server.js'
import { analyze, analyzeIncremental, formatText, internalError, type AnalysisMemo, type AnalysisMessage } from './analysis/index.js'
import { createDirectoryConfigSource, type ConfigSource, type ConfigUpdate } from './config-source.js'
import { materialiseCaFromSecret } from './kube/ca-secret.js'
import { createRootCertPublisher } from './kube/root-cert-publisher.js'
import { createTokenReviewAuthenticator, parseCaller } from './kube/token-review.js'
import { createWaypointController } from './kube/waypoint-controller.js'
import { KubeConfigSource } from './kube-config-source.js'
import { createDebugServer, type DebugServer } from './debug-server.js'
import { createIstiodMetrics, type IstiodMetrics } from './metrics.js'
import { createIstiodProviders } from './providers.js'
import { openIstiodState } from './state-dir.js'
import { internSnapshot } from './resources/intern.js'
import type { ConfigSnapshot } from './resources/model.js'
import { translateIncremental, type AddressPlan, type TranslateMemo, type Translation } from './translate/index.js'

/** istiod on the Kubernetes API (`ambient istiod --kube`). */
export interface IstiodKubeOptions {
  readonly client: KubeClient
  /** istiod's namespace: the CA Secret lives there. Default istio-system. */
  readonly namespace?: string
  /** The image waypoint Deployments run (it has `ambient` as entrypoint). */
  readonly waypointImage: string
  /** istiod's xDS address as pods reach it. Default `istiod.<namespace>.svc:15012`. */
  readonly xdsAddress?: string
  /** Service accounts (`ns/name`) trusted to act for their node. Default `istio-system/ztunnel`. */
  readonly nodeAgents?: readonly string[]
  /** Reflector retry delays (tests shorten them). */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number }
}

export interface IstiodOptions {
  /** The config directory; or `kube` (exactly one of the two). */
  readonly configDir?: string
  readonly kube?: IstiodKubeOptions
  readonly stateDir: string
  /** node-1..node-N. */
  readonly nodes: number
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Defaults 15012 / 15014; 0 picks free ports. */
  readonly ports?: { readonly grpc?: number; readonly debug?: number }
  /** Default cluster.local. */
  readonly trustDomain?: string
  readonly logger: Logger
  /** Pod/pod-local/VIP prefixes; architecture.md's by default. */
  readonly addressPlan?: AddressPlan
  /** Quiet time after the last file event before reloading (default 100 ms). */
  readonly debounceMs?: number
  /** Sidecar mode: also serve one SidecarConfig per meshed pod (`sidecar/<ns>/<pod>`). Default false. */
  readonly sidecars?: boolean
}

export interface Istiod {
  /** `host:port` of 15012 (gRPC: Delta ADS + CA) and 15014 (debug, metrics). */
  readonly addresses: { readonly grpc: string; readonly debug: string }
  /** The mesh root proxies must trust for 15012 (and for each other). */
  readonly rootCertPath: string
  /** The SPIFFE ID istiod's serving certificate carries. */
  readonly serverIdentity: string
  readonly trustDomain: string
  /** Directory mode: the node's token file (in Kubernetes mode proxies present ServiceAccount tokens). */
  tokenFile(node: string): string
  /** The config version last applied (the directory source counts from 1). */
  readonly configVersion: number
  translation(): Translation | undefined
  analysis(): readonly AnalysisMessage[]
  status(): DeltaAdsStatus
  readonly metrics: IstiodMetrics
  close(): Promise<void>
}

export const DEFAULT_ISTIOD_PORTS = { grpc: 15012, debug: 15014 } as const

export async function startIstiod(options: IstiodOptions): Promise<Istiod> {
  const log = options.logger
  const host = options.host ?? '127.0.0.1'
  const trustDomain = options.trustDomain ?? 'cluster.local'
  const kube = options.kube
  if ((kube === undefined) === (options.configDir === undefined)) {
    throw new AmbientError('ISTIOD_OPTIONS_INVALID', 'istiod reads config from a directory or from the Kubernetes API: give exactly one', {
      side: 'config',
    })
  }
  // Kubernetes mode: the real nodes, as the pods name them (kept in place: the debug server reads it).
  const nodeNames = kube === undefined ? Array.from({ length: options.nodes }, (_, i) => `node-${i + 1}`) : []
  const kubeNamespace = kube?.namespace ?? 'istio-system'
  if (kube !== undefined) {
    const secret = await materialiseCaFromSecret(kube.client, kubeNamespace, join(options.stateDir, 'ca'), trustDomain)
    log.info({ event: 'ca_root', secret: `${kubeNamespace}/${secret}` }, 'mesh CA root from Secret')
  }
  const state = await openIstiodState({
    stateDir: options.stateDir,
    trustDomain,
    nodes: kube === undefined ? nodeNames : [],
    servingIps: [host],
  })
  const metrics = createIstiodMetrics()
  const providers = createIstiodProviders()
  const configLog = childLogger(log, 'config')
  const source: ConfigSource =
    kube === undefined
      ? createDirectoryConfigSource({
          dir: options.configDir as string,
          ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
        })
      : new KubeConfigSource({
          client: kube.client,
          ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
          ...(kube.backoff === undefined ? {} : { backoff: kube.backoff }),
          onError: (kind, err) =>
            configLog.warn({ event: 'kube_watch_failed', kind, err: errorMessage(err) }, 'list/watch failed; retrying'),
        })
  const kubeSource = source instanceof KubeConfigSource ? source : undefined
  const authenticate =
    kube === undefined || kubeSource === undefined
      ? (token: string) => state.authenticate(token)
      : createTokenReviewAuthenticator({
          client: kube.client,
          pods: () => kubeSource.raw('Pod'),
          ...(kube.nodeAgents === undefined ? {} : { nodeAgents: kube.nodeAgents }),
        })
  const xds = createDeltaAdsServer({
    providers: providers.providers,
    authenticate,
    metrics,
    logger: log,
    versionInfo: () => String(configVersion),
  })
  const ca = createCaService({
    ca: state.ca,
    authenticate,
    mayImpersonate: (callerName, identity) => {
      // A node (token) gets what its pods may have; a workload's own token only its own identity.
      const caller = parseCaller(callerName)
      const wanted = identity.toString()
      if (caller.kind === 'workload' && wanted !== `spiffe://${trustDomain}/ns/${caller.namespace}/sa/${caller.serviceAccount}`)
        return false
      return providers.workloadsOn(caller.node).some((w) => identityOf(w, trustDomain) === wanted)
    },
    logger: log,
  })
  const waypoints =
    kube === undefined
      ? undefined
      : createWaypointController(kube.client, {
          image: kube.waypointImage,
          xdsAddress: kube.xdsAddress ?? `istiod.${kubeNamespace}.svc:15012`,
          trustDomain,
          onError: (gateway, err) =>
            configLog.warn(
              { event: 'waypoint_reconcile_failed', gateway, err: errorMessage(err) },
              'cannot create the waypoint or write its status',
            ),
        })
  const rootCerts =
    kube === undefined
      ? undefined
      : createRootCertPublisher(kube.client, state.ca.rootCertPem, (ns, err) =>
          configLog.warn(
            { event: 'root_cert_publish_failed', namespace: ns, err: errorMessage(err) },
            'cannot write ConfigMap istio-ca-root-cert',
          ),
        )
  let controllers: Promise<void> = Promise.resolve()
  let allocations = state.allocations
  let analysis: readonly AnalysisMessage[] = []
  let configVersion = 0
  let saving: Promise<void> = Promise.resolve()
  // What the last change left for the next: the snapshot (so unchanged objects keep their identity)
  // and translation's memo (so only what those changes touch is translated again).
  let lastSnapshot: ConfigSnapshot | undefined
  let memo: TranslateMemo | undefined
  let analysisMemo: AnalysisMemo | undefined

  const apply = (update: ConfigUpdate): void => {
    configVersion = update.version
    if (kubeSource !== undefined) {
      // Controllers act on the API's objects, one pass at a time, after every change.
      controllers = controllers
        .then(() =>
          Promise.all([
            waypoints?.reconcile(kubeSource.raw('Gateway'), kubeSource.raw('Service')),
            rootCerts?.sync(kubeSource.raw('Namespace').map((n) => n.metadata.name)),
          ]),
        )
        .then(
          () => undefined,
          () => undefined,
        )
      const names = [...new Set(update.snapshot.Pod.map((p) => p.spec.nodeName ?? '').filter((n) => n !== ''))].sort()
      nodeNames.splice(0, nodeNames.length, ...names)
    }
    const snapshot = internSnapshot(update.snapshot, lastSnapshot)
    lastSnapshot = snapshot
    let translation: Translation
    let changedTypes: readonly string[]
    try {
      const translated = translateIncremental(
        snapshot,
        {
          nodes: kube === undefined ? options.nodes : Math.min(255, Math.max(1, nodeNames.length)),
          trustDomain,
          ...(kube === undefined ? {} : { nodeNames }),
          ...(allocations === undefined ? {} : { allocations }),
          ...(options.addressPlan === undefined ? {} : { addressPlan: options.addressPlan }),
          ...(options.sidecars === true ? { sidecars: true } : {}),
        },
        memo,
      )
      translation = translated.translation
      changedTypes = [...providers.update(translation).changes.keys()]
      memo = translated.memo
    } catch (err) {
      // A translator bug must not take the mesh down: the last good state stays served.
      const messages = [
        ...analyze(snapshot, update.messages),
        internalError(`translation failed, the last good state is kept: ${errorMessage(err)}`),
      ]
      report(messages, update)
      metrics.configUpdate({ outcome: 'failed', ...counts(messages) })
      return
    }
    allocations = translation.allocations
    const table = translation.allocations
    saving = saving
      .then(() => state.saveAllocations(table))
      .catch((err: unknown) => {
        configLog.error({ event: 'allocations_save_failed', err: errorMessage(err) }, 'cannot save address allocations')
      })
    const analyzed = analyzeIncremental(snapshot, update.messages, translation, {}, analysisMemo)
    analysisMemo = analyzed.memo
    const messages = analyzed.messages
    report(messages, update)
    metrics.configUpdate({ outcome: 'applied', ...counts(messages) })
    const m = translation.mesh
    configLog.info(
      {
        event: 'config_applied',
        version: update.version,
        changedFiles: update.changedFiles,
        workloads: m.workloads.length,
        services: m.services.length,
        policies: m.policies.length,
        waypoints: translation.waypoints.length,
      },
      'config applied; pushing',
    )
    // Only the types whose resources changed: the others' diff would find nothing to send.
    for (const typeUrl of changedTypes) xds.push(typeUrl)
  }

  /** Logs the messages new since the last analysis (all of them at start), and keeps the list. */
  const report = (messages: readonly AnalysisMessage[], update: ConfigUpdate): void => {
    const before = new Set(analysis.map(formatText))
    for (const msg of messages) {
      const text = formatText(msg)
      if (before.has(text)) continue
      const entry = {
        event: 'analysis',
        version: update.version,
        code: msg.code,
        level: msg.level,
        object: msg.object,
        file: msg.file,
        line: msg.line,
        path: msg.path,
      }
      if (msg.level === 'Error') configLog.error(entry, text)
      else if (msg.level === 'Warning') configLog.warn(entry, text)
      else configLog.info(entry, text)
    }
    analysis = messages
  }

  source.onUpdate(apply)
  await source.start()

  let grpc: GrpcServer | undefined
  let debug: DebugServer | undefined
  let debugAddress: AddressInfo
  try {
    grpc = await startGrpcServer({
      host,
      port: options.ports?.grpc ?? DEFAULT_ISTIOD_PORTS.grpc,
      services: [xds.service, ca],
      tls: { rootCertPem: state.ca.rootCertPem, certChainPem: state.serving.certChainPem, keyPem: state.serving.keyPem },
    })
    debug = createDebugServer({
      host,
      port: options.ports?.debug ?? DEFAULT_ISTIOD_PORTS.debug,
      logger: log,
      metrics,
      nodes: nodeNames,
      state: () => ({ version: configVersion, translation: providers.current }),
      analysis: () => analysis,
      connections: () => xds.status(),
    })
    debugAddress = await debug.start()
  } catch (err) {
    await Promise.allSettled([source.close(), grpc?.close()])
    throw err
  }
  const hostPort = (h: string, p: number): string => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`)
  const addresses = { grpc: grpc.target, debug: hostPort(debugAddress.address, debugAddress.port) }
  log.info(
    {
      event: 'effective_config',
      configDir: options.configDir,
      kube: kube === undefined ? undefined : kube.client.connection.server,
      stateDir: options.stateDir,
      nodes: nodeNames,
      trustDomain,
      grpc: addresses.grpc,
      debug: addresses.debug,
      rootCert: state.rootCertPath,
      tokens: kube === undefined ? nodeNames.map(state.tokenFile) : 'TokenReview (audience istio-ca)',
    },
    'istiod ready',
  )

  let closing: Promise<void> | undefined
  const servers = { grpc, debug }
  return {
    addresses,
    rootCertPath: state.rootCertPath,
    serverIdentity: state.serving.identity.toString(),
    trustDomain,
    tokenFile: state.tokenFile,
    get configVersion() {
      return configVersion
    },
    translation: () => providers.current,
    analysis: () => analysis,
    status: () => xds.status(),
    metrics,
    close() {
      closing ??= (async () => {
        await source.close()
        await controllers
        await Promise.allSettled([servers.grpc.close(), servers.debug.close()])
        await saving
      })()
      return closing
    },
  }
}

/** The SPIFFE ID a workload's certificate carries (empty fields take Istio's defaults). */
function identityOf(w: Workload, defaultTrustDomain: string): string {
  return `spiffe://${w.trustDomain || defaultTrustDomain}/ns/${w.namespace}/sa/${w.serviceAccount || 'default'}`
}

function counts(messages: readonly AnalysisMessage[]): { errors: number; warnings: number } {
  return { errors: messages.filter((m) => m.level === 'Error').length, warnings: messages.filter((m) => m.level === 'Warning').length }
}
