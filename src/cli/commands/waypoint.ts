// `ambient waypoint --name W --namespace NS --config FILE --ca-dir D [--host IP]`: one waypoint,
// standalone, from a WaypointConfig JSON file. The config comes through a WaypointConfigSource:
// istiod's xDS (`--xds ADDR`) becomes a second implementation of the same interface.
import { openMeshCa } from '../../identity/ca.js'
import { SpiffeId } from '../../identity/spiffe-id.js'
import { AmbientError } from '../../errors.js'
import type { WaypointConfig } from '../../mesh/waypoint-config.js'
import { createLogger, type LogLevel } from '../../observability/logger.js'
import { createMetrics } from '../../observability/metrics.js'
import { fileConfigSource } from '../../waypoint/config-source.js'
import { createWaypoint } from '../../waypoint/waypoint.js'
import { parseCommandArgs, required } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE = 'ambient waypoint --name NAME --namespace NS --config FILE --ca-dir DIR [--host IP] [--log-level info] [--hbone-port 15008] [--metrics-port 15020] [--readiness-port 15021]'

export const waypointCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, {
    name: { type: 'string' }, namespace: { type: 'string' }, config: { type: 'string' }, 'ca-dir': { type: 'string' }, host: { type: 'string' },
    'log-level': { type: 'string' }, 'hbone-port': { type: 'string' }, 'metrics-port': { type: 'string' }, 'readiness-port': { type: 'string' },
  }, USAGE)
  const name = required(values.name, 'name', USAGE)
  const namespace = required(values.namespace, 'namespace', USAGE)
  const logger = createLogger({ component: 'waypoint', level: (values['log-level'] ?? io.env.AMBIENT_LOG_LEVEL ?? 'info') as LogLevel })
  const ca = await openMeshCa({ dir: required(values['ca-dir'], 'ca-dir', USAGE) })
  const source = fileConfigSource(required(values.config, 'config', USAGE))
  let first: WaypointConfig | undefined
  await source.start((c) => { first = c })
  if (first === undefined) throw new AmbientError('WAYPOINT_CONFIG_INVALID', 'no waypoint config delivered', { side: 'config' })
  if (first.name !== name || first.namespace !== namespace) {
    throw new AmbientError('WAYPOINT_CONFIG_INVALID', `config is for waypoint ${first.namespace}/${first.name}, not ${namespace}/${name}`, { side: 'config' })
  }
  const identity = SpiffeId.of({ trustDomain: ca.trustDomain, namespace, serviceAccount: name })
  const port = (n: string, v: string | undefined, d: number): number => {
    if (v === undefined) return d
    const p = Number(v)
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new AmbientError('CLI_USAGE', `--${n}: "${v}" is not a port (0-65535)`, { side: 'config' })
    return p
  }
  const waypoint = createWaypoint({
    config: first, certificate: await ca.issue(identity), host: values.host ?? '127.0.0.1', logger,
    metrics: createMetrics({ processMetrics: true }),
    ports: { hbone: port('hbone-port', values['hbone-port'], first.hbonePort), metrics: port('metrics-port', values['metrics-port'], 15020), readiness: port('readiness-port', values['readiness-port'], 15021) },
  })
  await waypoint.start()
  const why = await io.stopSignal
  logger.info({ event: 'shutdown', signal: why }, 'stopping waypoint')
  await waypoint.close()
  await source.close()
  logger.flush()
  return EXIT_OK
}
