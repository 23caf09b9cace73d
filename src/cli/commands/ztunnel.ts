// `ambient ztunnel --node NAME --config FILE --ca-dir DIR`: one node's L4 proxy, standalone; or
// `ambient ztunnel --node NAME --xds HOST:PORT (--istiod-state-dir D | --token-file F --root-cert F)`:
// state and certificates from istiod; or, with no mode flag and Istio's chart environment
// (NODE_NAME, INSTANCE_IP, XDS_ADDRESS, …: src/cli/ztunnel-env.ts), configured as Istio's ztunnel.
import { resolve } from 'node:path'
import type { KubeClient } from '../../kube/client.js'
import { AmbientError } from '../../errors.js'
import { startDaemon } from '../../ztunnel/daemon.js'
import { DNS_PROXY_PORT } from '../../ztunnel/dns/proxy.js'
import { parseUpstreamServer, type UpstreamServer } from '../../ztunnel/dns/upstream.js'
import { getServers } from 'node:dns'
import { flagOptions, parseCommandArgs, parseDurationOption, required, stringOptions } from '../args.js'
import {
  ADMIN_PORTS_SPEC,
  ADMIN_PORTS_USAGE,
  adminPorts,
  CAPTURE_SPEC,
  captureMode,
  commandLogger,
  givenPort,
  LOG_LEVEL_SPEC,
  LOG_LEVEL_USAGE,
} from './daemon-options.js'
import { checkIstiodFiles, ISTIOD_FILES_USAGE, ISTIOD_XDS_SPEC, istiodFiles } from './istiod-client-options.js'
import { hasZtunnelEnv, ztunnelFromEnv } from '../ztunnel-env.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE =
  `ambient ztunnel --node NAME (--config FILE --ca-dir DIR | --xds 127.0.0.1:15012 ${ISTIOD_FILES_USAGE}) [--node-ip IP] ` +
  `[--trust-domain TD] ${LOG_LEVEL_USAGE} [--drain-deadline 5s] [--hbone-port 15008] [--socks-port 15080] [--admin-port 15000] ` +
  `${ADMIN_PORTS_USAGE} [--dns [--dns-port 15053] [--dns-upstream IP[:PORT],…|none]] ` +
  '[--capture socks|inpod --netns-prefix P | --inpod-uds PATH | --node-agent [--kubeconfig F] [--host-netns PATH]]'

const OPTIONS = {
  ...stringOptions('config', 'ca-dir', 'node-ip', 'trust-domain', 'drain-deadline', 'hbone-port', 'socks-port', 'admin-port'),
  ...stringOptions('netns-prefix', 'inpod-uds', 'host-netns', 'kubeconfig', 'dns-port', 'dns-upstream'),
  ...flagOptions('node-agent', 'dns'),
  ...ISTIOD_XDS_SPEC,
  ...LOG_LEVEL_SPEC,
  ...ADMIN_PORTS_SPEC,
  ...CAPTURE_SPEC,
}

export const ztunnelCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, OPTIONS, USAGE)
  // No mode chosen by flags, and Istio's chart environment present: configure as Istio's ztunnel.
  const fromEnv =
    values.node === undefined && values.xds === undefined && values.config === undefined && hasZtunnelEnv(io.env)
      ? ztunnelFromEnv(io.env)
      : undefined
  const node = fromEnv?.node ?? required(values.node, 'node', USAGE)
  const logger = commandLogger('ztunnel', values, io)
  const ports = {
    hbone: givenPort(values['hbone-port'], 'hbone-port'),
    socks: givenPort(values['socks-port'], 'socks-port'),
    admin: givenPort(values['admin-port'], 'admin-port'),
    ...adminPorts(values),
  }
  const dns =
    values.dns === true || values['dns-port'] !== undefined || values['dns-upstream'] !== undefined
      ? { port: givenPort(values['dns-port'], 'dns-port') ?? DNS_PROXY_PORT, upstream: dnsUpstreamArg(values['dns-upstream']) }
      : undefined
  const drainMs = parseDurationOption(values['drain-deadline'] ?? '5s', 'drain-deadline')
  let quit: () => void = () => undefined
  const quitRequested = new Promise<string>((resolve) => {
    quit = () => resolve('quitquitquit')
  })
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
  const files = fromEnv === undefined && values.xds !== undefined ? istiodFiles(values, node, USAGE) : undefined
  if (files !== undefined) await checkIstiodFiles(files)
  const source =
    fromEnv !== undefined
      ? { xds: fromEnv.xds }
      : values.xds === undefined || files === undefined
        ? { configFile: required(values.config, 'config', USAGE), caDir: required(values['ca-dir'], 'ca-dir', USAGE) }
        : { xds: { target: values.xds, ...files } }
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
  const capture = captureMode(values.capture)
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
