// `ambient waypoint --name W --namespace NS --config FILE --ca-dir D [--host IP]`: one waypoint,
// standalone, from a WaypointConfig JSON file and a local CA directory.
// `ambient waypoint --name W --namespace NS --xds 127.0.0.1:15012 --istiod-state-dir D --node N
// [--host IP]`: the waypoint fed by istiod (src/waypoint/daemon.ts, xds-waypoint.ts): its config over Delta
// xDS, its certificate from istiod's CA with node N's token (the node istiod placed the waypoint's
// pod on), listening by default on the pod IP istiod's Address resources give the waypoint's pod.
import { AmbientError } from '../../errors.js'
import { createLogger, type LogLevel } from '../../observability/logger.js'
import { createMetrics } from '../../observability/metrics.js'
import { startWaypointDaemon, type WaypointDaemonOptions } from '../../waypoint/daemon.js'
import { spanSinkFrom } from '../../l7/zipkin.js'
import { parseCommandArgs, portOption, required } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'
import { ISTIOD_CLIENT_SPEC, istiodClientCredentials } from './istiod-client-options.js'

const USAGE =
  'ambient waypoint --name NAME --namespace NS (--config FILE --ca-dir DIR | --xds 127.0.0.1:15012 ' +
  '--node NODE (--istiod-state-dir D | --token-file F --root-cert F) [--trust-domain TD] ' +
  '[--sync-timeout 30s]) [--host IP] [--log-level info] [--hbone-port 15008] [--metrics-port 15020] ' +
  '[--readiness-port 15021] [--zipkin-file F | --zipkin-url http://127.0.0.1:9411/api/v2/spans]'

export const waypointCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(
    argv,
    {
      name: { type: 'string' },
      namespace: { type: 'string' },
      config: { type: 'string' },
      'ca-dir': { type: 'string' },
      host: { type: 'string' },
      'log-level': { type: 'string' },
      'hbone-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      'readiness-port': { type: 'string' },
      'zipkin-file': { type: 'string' },
      'zipkin-url': { type: 'string' },
      ...ISTIOD_CLIENT_SPEC,
    },
    USAGE,
  )
  // Spans (when a Telemetry resource turns tracing on) go to a Zipkin file or collector; the flags
  // win over AMBIENT_ZIPKIN_FILE / AMBIENT_ZIPKIN_URL, which the waypoint reads itself.
  if (values['zipkin-file'] !== undefined && values['zipkin-url'] !== undefined)
    throw new AmbientError('CLI_USAGE', `--zipkin-file and --zipkin-url: give one\nusage: ${USAGE}`, { side: 'config' })
  if (values['zipkin-url'] !== undefined && !/^https?:\/\//.test(values['zipkin-url']))
    throw new AmbientError('CLI_USAGE', `--zipkin-url: "${values['zipkin-url']}" is not an http(s) URL`, { side: 'config' })
  const spans = spanSinkFrom({ file: values['zipkin-file'], url: values['zipkin-url'] }, io.env)
  const name = required(values.name, 'name', USAGE)
  const namespace = required(values.namespace, 'namespace', USAGE)
  const logger = createLogger({ component: 'waypoint', level: (values['log-level'] ?? io.env.AMBIENT_LOG_LEVEL ?? 'info') as LogLevel })
  const port = (n: string, v: string | undefined, d: number): number => (v === undefined ? d : portOption(v, n))
  const hbone = values['hbone-port'] === undefined ? {} : { hbone: port('hbone-port', values['hbone-port'], 15008) }
  const ports = {
    ...hbone,
    metrics: port('metrics-port', values['metrics-port'], 15020),
    readiness: port('readiness-port', values['readiness-port'], 15021),
  }
  let from: Pick<WaypointDaemonOptions, 'local' | 'xds'>
  if (values.xds !== undefined) {
    if (values.config !== undefined || values['ca-dir'] !== undefined)
      throw new AmbientError(
        'CLI_USAGE',
        `--xds takes the config and certificates from istiod: drop --config and --ca-dir\nusage: ${USAGE}`,
        { side: 'config' },
      )
    const node = required(values.node, 'node', USAGE)
    from = { xds: { target: values.xds, node, ...istiodClientCredentials(values, node, USAGE) } }
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
  const why = await io.stopSignal
  logger.info({ event: 'shutdown', signal: why }, 'stopping waypoint')
  await running.close()
  logger.flush()
  return EXIT_OK
}
