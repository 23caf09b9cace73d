// `ambient waypoint --name W --namespace NS --config FILE --ca-dir D [--host IP]`: one waypoint,
// standalone, from a WaypointConfig JSON file and a local CA directory.
// `ambient waypoint --name W --namespace NS --xds 127.0.0.1:15012 --istiod-state-dir D --node N
// [--host IP]`: the waypoint fed by istiod (src/waypoint/daemon.ts, xds-waypoint.ts): its config over Delta
// xDS, its certificate from istiod's CA with node N's token (the node istiod placed the waypoint's
// pod on), listening by default on the pod IP istiod's Address resources give the waypoint's pod.
import { AmbientError } from '../../errors.js'
import { createMetrics } from '../../observability/metrics.js'
import { startWaypointDaemon, type WaypointDaemonOptions } from '../../waypoint/daemon.js'
import { spanSinkFrom } from '../../l7/zipkin.js'
import { parseCommandArgs, required, stringOptions } from '../args.js'
import type { Command } from '../io.js'
import {
  ADMIN_PORTS_SPEC,
  ADMIN_PORTS_USAGE,
  adminPorts,
  commandLogger,
  givenPort,
  LOG_LEVEL_SPEC,
  LOG_LEVEL_USAGE,
  serveUntilStopped,
} from './daemon-options.js'
import { checkIstiodFiles, ISTIOD_CLIENT_SPEC, ISTIOD_FILES_USAGE, istiodClientCredentials } from './istiod-client-options.js'

const USAGE =
  'ambient waypoint --name NAME --namespace NS (--config FILE --ca-dir DIR | --xds 127.0.0.1:15012 ' +
  `--node NODE ${ISTIOD_FILES_USAGE} [--trust-domain TD] [--sync-timeout 30s]) [--host IP] ${LOG_LEVEL_USAGE} [--hbone-port 15008] ` +
  `${ADMIN_PORTS_USAGE} [--zipkin-file F | --zipkin-url http://127.0.0.1:9411/api/v2/spans]`

const OPTIONS = {
  ...stringOptions('name', 'namespace', 'config', 'ca-dir', 'host', 'hbone-port', 'zipkin-file', 'zipkin-url'),
  ...ISTIOD_CLIENT_SPEC,
  ...LOG_LEVEL_SPEC,
  ...ADMIN_PORTS_SPEC,
}

export const waypointCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, OPTIONS, USAGE)
  // Spans (when a Telemetry resource turns tracing on) go to a Zipkin file or collector; the flags
  // win over AMBIENT_ZIPKIN_FILE / AMBIENT_ZIPKIN_URL, which the waypoint reads itself.
  if (values['zipkin-file'] !== undefined && values['zipkin-url'] !== undefined)
    throw new AmbientError('CLI_USAGE', `--zipkin-file and --zipkin-url: give one\nusage: ${USAGE}`, { side: 'config' })
  if (values['zipkin-url'] !== undefined && !/^https?:\/\//.test(values['zipkin-url']))
    throw new AmbientError('CLI_USAGE', `--zipkin-url: "${values['zipkin-url']}" is not an http(s) URL`, { side: 'config' })
  const spans = spanSinkFrom({ file: values['zipkin-file'], url: values['zipkin-url'] }, io.env)
  const name = required(values.name, 'name', USAGE)
  const namespace = required(values.namespace, 'namespace', USAGE)
  const logger = commandLogger('waypoint', values, io)
  const hbone = givenPort(values['hbone-port'], 'hbone-port')
  const ports = { ...(hbone === undefined ? {} : { hbone }), ...adminPorts(values) }
  let from: Pick<WaypointDaemonOptions, 'local' | 'xds'>
  if (values.xds !== undefined) {
    if (values.config !== undefined || values['ca-dir'] !== undefined)
      throw new AmbientError(
        'CLI_USAGE',
        `--xds takes the config and certificates from istiod: drop --config and --ca-dir\nusage: ${USAGE}`,
        { side: 'config' },
      )
    const node = required(values.node, 'node', USAGE)
    const credentials = istiodClientCredentials(values, node, USAGE)
    await checkIstiodFiles(credentials)
    from = { xds: { target: values.xds, node, ...credentials } }
  } else {
    const caDir = required(values['ca-dir'], 'ca-dir', USAGE)
    from = { local: { caDir, configFile: required(values.config, 'config', USAGE) } }
  }
  const running = await startWaypointDaemon({
    ...from,
    name,
    namespace,
    logger,
    ports,
    metrics: createMetrics({ processMetrics: true }),
    ...(spans === undefined ? {} : { spans }),
    ...(values.host === undefined ? {} : { host: values.host }),
  })
  return serveUntilStopped(io, logger, running, 'stopping waypoint')
}
