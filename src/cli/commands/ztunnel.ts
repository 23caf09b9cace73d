// `ambient ztunnel --node NAME --config FILE --ca-dir DIR`: one node's L4 proxy, standalone; or
// `ambient ztunnel --node NAME --xds HOST:PORT (--istiod-state-dir D | --token-file F --root-cert F)`:
// state and certificates from istiod; or, with no mode flag and Istio's chart environment
// (NODE_NAME, INSTANCE_IP, XDS_ADDRESS, …: src/cli/ztunnel-env.ts), configured as Istio's ztunnel.
import { join, resolve } from 'node:path'
import type { KubeClient } from '../../kube/client.js'
import { AmbientError } from '../../errors.js'
import { createLogger, type LogLevel } from '../../observability/logger.js'
import { startDaemon } from '../../ztunnel/daemon.js'
import { DNS_PROXY_PORT } from '../../ztunnel/dns/proxy.js'
import { parseUpstreamServer, type UpstreamServer } from '../../ztunnel/dns/upstream.js'
import { getServers } from 'node:dns'
import { parseCommandArgs, parseDurationOption, portOption, required } from '../args.js'
import { hasZtunnelEnv, ztunnelFromEnv } from '../ztunnel-env.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE =
  'ambient ztunnel --node NAME (--config FILE --ca-dir DIR | --xds 127.0.0.1:15012 ' +
  '(--istiod-state-dir D | --token-file F --root-cert F)) [--node-ip IP] [--trust-domain TD] ' +
  '[--log-level info] [--drain-deadline 5s] [--hbone-port 15008] [--socks-port 15080] [--admin-port ' +
  '15000] [--metrics-port 15020] [--readiness-port 15021] [--dns [--dns-port 15053] [--dns-upstream ' +
  'IP[:PORT],…|none]] [--capture socks|inpod --netns-prefix P | --inpod-uds PATH | --node-agent [--kubeconfig F] [--host-netns PATH]]'

export const ztunnelCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(
    argv,
    {
      node: { type: 'string' },
      config: { type: 'string' },
      'ca-dir': { type: 'string' },
      'node-ip': { type: 'string' },
      'trust-domain': { type: 'string' },
      'log-level': { type: 'string' },
      'drain-deadline': { type: 'string' },
      'hbone-port': { type: 'string' },
      'socks-port': { type: 'string' },
      'admin-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      'readiness-port': { type: 'string' },
      capture: { type: 'string' },
      'netns-prefix': { type: 'string' },
      'inpod-uds': { type: 'string' },
      'node-agent': { type: 'boolean' },
      'host-netns': { type: 'string' },
      kubeconfig: { type: 'string' },
      dns: { type: 'boolean' },
      'dns-port': { type: 'string' },
      'dns-upstream': { type: 'string' },
      xds: { type: 'string' },
      'token-file': { type: 'string' },
      'root-cert': { type: 'string' },
      'istiod-state-dir': { type: 'string' },
    },
    USAGE,
  )
  // No mode chosen by flags, and Istio's chart environment present: configure as Istio's ztunnel.
  const fromEnv =
    values.node === undefined && values.xds === undefined && values.config === undefined && hasZtunnelEnv(io.env)
      ? ztunnelFromEnv(io.env)
      : undefined
  const node = fromEnv?.node ?? required(values.node, 'node', USAGE)
  const logger = createLogger({ component: 'ztunnel', level: (values['log-level'] ?? io.env.AMBIENT_LOG_LEVEL ?? 'info') as LogLevel })
  const port = (name: string, v: string | undefined): number | undefined => (v === undefined ? undefined : portOption(v, name))
  const ports = {
    hbone: port('hbone-port', values['hbone-port']),
    socks: port('socks-port', values['socks-port']),
    admin: port('admin-port', values['admin-port']),
    metrics: port('metrics-port', values['metrics-port']),
    readiness: port('readiness-port', values['readiness-port']),
  }
  const dns =
    values.dns === true || values['dns-port'] !== undefined || values['dns-upstream'] !== undefined
      ? { port: port('dns-port', values['dns-port']) ?? DNS_PROXY_PORT, upstream: dnsUpstreamArg(values['dns-upstream']) }
      : undefined
  const drainMs = parseDurationOption(values['drain-deadline'] ?? '5s', 'drain-deadline')
  let quit: () => void = () => undefined
  const quitRequested = new Promise<string>((resolve) => {
    quit = () => resolve('quitquitquit')
  })
  const stateDir = values['istiod-state-dir']
  if (fromEnv !== undefined)
    logger.info(
      {
        event: 'istio_env',
        node: fromEnv.node,
        nodeId: fromEnv.xds.nodeId,
        xds: fromEnv.xds.target,
        ca: fromEnv.xds.caTarget,
        ...(fromEnv.inpodEnabled ? { inpodUds: fromEnv.inpodUds } : {}),
      },
      "configured from Istio's ztunnel environment",
    )
  const source =
    fromEnv !== undefined
      ? { xds: fromEnv.xds }
      : values.xds === undefined
        ? { configFile: required(values.config, 'config', USAGE), caDir: required(values['ca-dir'], 'ca-dir', USAGE) }
        : {
            xds: {
              target: values.xds,
              // The files istiod writes into its state directory (src/istiod/state-dir.ts).
              tokenFile:
                values['token-file'] ??
                (stateDir === undefined ? required(undefined, 'token-file', USAGE) : join(stateDir, 'tokens', `${node}.token`)),
              rootCertFile:
                values['root-cert'] ??
                (stateDir === undefined ? required(undefined, 'root-cert', USAGE) : join(stateDir, 'ca', 'root-cert.pem')),
            },
          }
  // ZDS (Istio's in-pod mode): istio-cni hands pods over on this socket; --inpod-uds or INPOD_UDS.
  const inpodUds = values['inpod-uds'] ?? (fromEnv?.inpodEnabled === true ? fromEnv.inpodUds : undefined)
  if (inpodUds !== undefined && values.capture !== undefined)
    throw new AmbientError('CLI_USAGE', '--inpod-uds: pods come from ZDS, in-pod; it does not go with --capture', { side: 'config' })
  // The in-process node agent (istio-cni's role): pods of this node from the API server, in-pod.
  const nodeAgent = values['node-agent'] === true || values.kubeconfig !== undefined
  if (nodeAgent && (inpodUds !== undefined || values.capture !== undefined))
    throw new AmbientError('CLI_USAGE', '--node-agent feeds in-pod capture itself: not with --inpod-uds or --capture', { side: 'config' })
  if (values['host-netns'] !== undefined && !nodeAgent)
    throw new AmbientError('CLI_USAGE', '--host-netns is where the node agent SNATs kubelet probes: only with --node-agent', {
      side: 'config',
    })
  let zds: { uds?: string; nodeAgent?: { client: KubeClient; hostNetns?: string } } | undefined =
    inpodUds === undefined ? undefined : { uds: inpodUds }
  if (nodeAgent) {
    const { requireInpod } = await import('../../capture/inpod/preflight.js')
    await requireInpod(`ambientzprobe-${process.pid}`, process.getuid?.())
    const [{ KubeClient }, { inClusterConnection, kubeconfigConnection }] = await Promise.all([
      import('../../kube/client.js'),
      import('../../kube/kubeconfig.js'),
    ])
    const connection =
      values.kubeconfig === undefined ? await inClusterConnection(io.env) : await kubeconfigConnection(resolve(io.cwd, values.kubeconfig))
    // --host-netns: the node's namespace for the kubelet probe SNAT (`/proc/1/ns/net` with hostPID, '' for hostNetwork).
    const hostNetns = values['host-netns']
    zds = { nodeAgent: { client: new KubeClient(connection), ...(hostNetns === undefined ? {} : { hostNetns }) } }
  }
  const capture = values.capture ?? 'socks'
  if (capture !== 'socks' && capture !== 'inpod')
    throw new AmbientError('CLI_USAGE', `--capture: "${capture}" is not socks or inpod`, { side: 'config' })
  if (capture === 'inpod') {
    // One clear error naming what is missing (root, iptables, the addon, ip netns) before anything binds.
    const { requireInpod } = await import('../../capture/inpod/preflight.js')
    await requireInpod(`${required(values['netns-prefix'], 'netns-prefix', USAGE)}zprobe-${node}`, process.getuid?.())
  }
  const daemon = await startDaemon({
    ...(zds === undefined ? {} : { zds }),
    ...(capture === 'inpod'
      ? { capture: { kind: 'inpod' as const, netnsPrefix: required(values['netns-prefix'], 'netns-prefix', USAGE) } }
      : {}),
    node,
    nodeIp: values['node-ip'] ?? fromEnv?.nodeIp ?? '127.0.0.1',
    ...source,
    ...(values['trust-domain'] === undefined ? {} : { trustDomain: values['trust-domain'] }),
    logger,
    ports: Object.fromEntries(Object.entries(ports).filter(([, v]) => v !== undefined)),
    onQuit: () => quit(),
    ...(dns === undefined ? {} : { dns }),
  })
  const why = await Promise.race([io.stopSignal, quitRequested])
  logger.info({ event: 'shutdown', signal: why, drainDeadlineMs: drainMs }, 'stopping: draining connections')
  await daemon.drain(drainMs)
  await daemon.close()
  logger.flush()
  return EXIT_OK
}

/**
 * `--dns-upstream`: a comma-separated list of IP[:PORT], `none` (answer NXDOMAIN for names outside
 * the mesh), or, when absent, the host's resolvers (its resolv.conf, as ztunnel forwards to its own).
 */
function dnsUpstreamArg(v: string | undefined): UpstreamServer[] {
  if (v === 'none') return []
  const list =
    v === undefined
      ? getServers()
      : v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
  return list.map((text) => {
    const server = parseUpstreamServer(text)
    if (server === undefined) throw new AmbientError('CLI_USAGE', `--dns-upstream: "${text}" is not IP[:PORT]`, { side: 'config' })
    return server
  })
}
