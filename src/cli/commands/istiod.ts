// `ambient istiod --config DIR`: config from a watched directory, Delta xDS and the CA on 15012,
// debug and metrics on 15014. Runs until SIGINT/SIGTERM.
// `ambient istiod --kube [--kubeconfig F]`: config from the Kubernetes API instead (in-cluster:
// the service-account mount and KUBERNETES_SERVICE_HOST/PORT), proxies authenticated by TokenReview.
import { resolve } from 'node:path'
import { AmbientError } from '../../errors.js'
import { startIstiod, type IstiodKubeOptions } from '../../istiod/istiod.js'
import { KubeClient } from '../../kube/client.js'
import { inClusterConnection, kubeconfigConnection } from '../../kube/kubeconfig.js'
import type { AddressPlan } from '../../istiod/translate/index.js'
import { flagOptions, intOption, parseCommandArgs, required, stringOptions } from '../args.js'
import type { Command } from '../io.js'
import {
  ADDRESS_PLAN_USAGE,
  commandLogger,
  ISTIOD_PLAN_SPEC,
  ISTIOD_PORTS_USAGE,
  LOG_LEVEL_SPEC,
  LOG_LEVEL_USAGE,
  serveUntilStopped,
} from './daemon-options.js'
import { PORT_MAX } from '../../net/address.js'

const USAGE =
  'ambient istiod (--config DIR | --kube [--kubeconfig F] [--namespace istio-system] ' +
  '[--waypoint-image ambient:dev] [--xds-address istiod.istio-system.svc:15012]) [--state-dir ' +
  `./.ambient/istiod] [--nodes 2] [--host 127.0.0.1] ${ISTIOD_PORTS_USAGE} ` +
  `[--trust-domain cluster.local] ${ADDRESS_PLAN_USAGE} [--sidecars] ${LOG_LEVEL_USAGE}`

const OPTIONS = {
  ...stringOptions('config', 'host', 'trust-domain', 'kubeconfig', 'namespace', 'waypoint-image', 'xds-address'),
  ...flagOptions('sidecars', 'kube'),
  ...ISTIOD_PLAN_SPEC,
  ...LOG_LEVEL_SPEC,
}

export const istiodCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, OPTIONS, USAGE)
  const kubeMode = values.kube === true || values.kubeconfig !== undefined
  if (kubeMode && values.config !== undefined) throw usageError('--config and --kube are two config sources: give one')
  let kube: IstiodKubeOptions | undefined
  if (kubeMode) {
    const connection =
      values.kubeconfig === undefined ? await inClusterConnection(io.env) : await kubeconfigConnection(resolve(io.cwd, values.kubeconfig))
    kube = {
      client: new KubeClient(connection),
      waypointImage: values['waypoint-image'] ?? io.env.WAYPOINT_IMAGE ?? 'ambient:dev',
      ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
      ...(values['xds-address'] === undefined ? {} : { xdsAddress: values['xds-address'] }),
    }
  }
  const logger = commandLogger('istiod', values, io)
  const istiod = await startIstiod({
    ...(kube === undefined ? { configDir: resolve(io.cwd, required(values.config, 'config', USAGE)) } : { kube }),
    stateDir: resolve(io.cwd, values['state-dir'] ?? '.ambient/istiod'),
    nodes: values.nodes === undefined ? 2 : intOption(values.nodes, 'nodes', 1, 255),
    // In a pod istiod must be reachable from other pods: all addresses.
    host: values.host ?? (kube === undefined ? '127.0.0.1' : '0.0.0.0'),
    ports: {
      grpc: values['grpc-port'] === undefined ? 15012 : intOption(values['grpc-port'], 'grpc-port', 0, PORT_MAX),
      debug: values['debug-port'] === undefined ? 15014 : intOption(values['debug-port'], 'debug-port', 0, PORT_MAX),
    },
    ...(values['trust-domain'] === undefined ? {} : { trustDomain: values['trust-domain'] }),
    ...(values['address-plan'] === undefined ? {} : { addressPlan: addressPlanArg(values['address-plan']) }),
    // Sidecar mode: one SidecarConfig per meshed pod besides the ambient resources.
    ...(values.sidecars === true ? { sidecars: true } : {}),
    logger,
  })
  io.stdout(`istiod: xDS and CA on ${istiod.addresses.grpc}, debug on http://${istiod.addresses.debug}; root ${istiod.rootCertPath}\n`)
  return serveUntilStopped(io, logger, istiod, 'stopping')
}

function usageError(message: string): AmbientError {
  return new AmbientError('CLI_USAGE', `${message}\n${USAGE}`, { side: 'config' })
}

/** `A.B,C.D,E.F`: the /16 prefixes of pod IPs, pod-local addresses and Service VIPs. */
function addressPlanArg(v: string): AddressPlan {
  const parts = v.split(',')
  const prefix = /^(\d{1,3})\.(\d{1,3})$/
  if (
    parts.length !== 3 ||
    parts.some((p) => {
      const m = prefix.exec(p)
      return m === null || Number(m[1]) > 255 || Number(m[2]) > 255
    })
  ) {
    throw usageError(`--address-plan: "${v}" is not three /16 prefixes (pods,pod-local,VIPs), e.g. 127.244,127.245,127.96`)
  }
  return { pods: parts[0]!, podLocal: parts[1]!, services: parts[2]! }
}
