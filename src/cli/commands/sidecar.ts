// `ambient sidecar --pod NS/NAME --xds 127.0.0.1:15012 (--istiod-state-dir D | --token-file F
// --root-cert F) [--node N]`: the sidecar-mode proxy of one pod (src/sidecar/daemon.ts): its
// config (`sidecar/<ns>/<pod>`) over Delta xDS, its certificate from istiod's CA with the token of
// the node the pod is on (with --istiod-state-dir and no --node, the node the config names; any
// node's token opens the xDS stream), listening on the pod IP. `--capture inpod`: run inside the
// pod's network namespace behind deploy/capture/sidecar-inpod.rules (the cluster runner starts it
// there as uid 1337), outbound on 15001 and inbound on 15006. istiod must run with
// sidecar configs on (`ambient istiod --sidecars`, or `ambient cluster up --mode sidecar`).
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { AmbientError, errorMessage } from '../../errors.js'
import { createMetrics } from '../../observability/metrics.js'
import { startXdsSidecar } from '../../sidecar/daemon.js'
import { parseCommandArgs, required, stringOptions } from '../args.js'
import type { Command } from '../io.js'
import {
  ADMIN_PORTS_SPEC,
  ADMIN_PORTS_USAGE,
  adminPorts,
  CAPTURE_SPEC,
  CAPTURE_USAGE,
  captureMode,
  commandLogger,
  LOG_LEVEL_SPEC,
  LOG_LEVEL_USAGE,
  serveUntilStopped,
} from './daemon-options.js'
import { checkIstiodFiles, ISTIOD_CLIENT_SPEC, ISTIOD_FILES_USAGE, istiodClientCredentials } from './istiod-client-options.js'

const USAGE =
  `ambient sidecar --pod NS/NAME --xds 127.0.0.1:15012 [--node NODE] ${ISTIOD_FILES_USAGE} [--trust-domain TD] [--sync-timeout 30s] ` +
  `${LOG_LEVEL_USAGE} ${ADMIN_PORTS_USAGE} ${CAPTURE_USAGE}`

const OPTIONS = { ...stringOptions('pod'), ...ISTIOD_CLIENT_SPEC, ...LOG_LEVEL_SPEC, ...ADMIN_PORTS_SPEC, ...CAPTURE_SPEC }

export const sidecarCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, OPTIONS, USAGE)
  const podArg = required(values.pod, 'pod', USAGE)
  const [namespace, pod] = podArg.includes('/') ? (podArg.split('/', 2) as [string, string]) : ['default', podArg]
  const target = required(values.xds, 'xds', USAGE)
  const capture = captureMode(values.capture)
  const stateDir = values['istiod-state-dir']
  const tokens = stateDir === undefined ? undefined : join(stateDir, 'tokens')
  // Without --node: any node's token opens the xDS stream; the CA gets the pod's node's (below).
  const node =
    values.node ??
    (tokens === undefined
      ? required(undefined, 'node', USAGE)
      : ((await nodeTokens(tokens)).sort()[0]?.slice(0, -'.token'.length) ?? 'node-1'))
  const credentials = istiodClientCredentials(values, node, USAGE)
  await checkIstiodFiles(credentials)
  const logger = commandLogger('sidecar', values, io)
  const running = await startXdsSidecar({
    target,
    node,
    namespace,
    pod,
    logger,
    ...credentials,
    ...(values.node === undefined && values['token-file'] === undefined && tokens !== undefined
      ? { caTokenFile: (podNode: string) => join(tokens, `${podNode}.token`) }
      : {}),
    metrics: createMetrics({ processMetrics: true }),
    capture,
    ports: adminPorts(values),
  })
  return serveUntilStopped(io, logger, running, 'stopping sidecar')
}

/** The node tokens istiod wrote (`<node>.token`); an unreadable directory is a usage error naming it. */
async function nodeTokens(dir: string): Promise<string[]> {
  const files = await readdir(dir).catch((err: unknown) => {
    throw new AmbientError('CLI_USAGE', `cannot read istiod's node tokens in ${dir}: ${errorMessage(err)}`, { side: 'config' })
  })
  return files.filter((f) => f.endsWith('.token'))
}
