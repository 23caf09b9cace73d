// `ambient sidecar --pod NS/NAME --xds 127.0.0.1:15012 (--istiod-state-dir D | --token-file F
// --root-cert F)`: the sidecar-mode proxy of one pod (src/sidecar/xds-sidecar.ts): its config
// (`sidecar/<ns>/<pod>`) over Delta xDS, its certificate from istiod's CA with the token of the node
// the pod is on (from the config, unless --node), listening on the pod IP. istiod must run with
// sidecar configs on (`ambient istiod --sidecars`, or `ambient cluster up --mode sidecar`).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AmbientError } from '../../errors.js'
import { createLogger, type LogLevel } from '../../observability/logger.js'
import { createMetrics } from '../../observability/metrics.js'
import { startXdsSidecar } from '../../sidecar/xds-sidecar.js'
import { parseCommandArgs, parseDurationMs, required } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE = 'ambient sidecar --pod NS/NAME --xds 127.0.0.1:15012 --node NODE (--istiod-state-dir D | --token-file F --root-cert F) [--trust-domain TD] [--sync-timeout 30s] [--log-level info] [--metrics-port 15020] [--readiness-port 15021]'

export const sidecarCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, {
    pod: { type: 'string' }, xds: { type: 'string' }, node: { type: 'string' }, 'istiod-state-dir': { type: 'string' },
    'token-file': { type: 'string' }, 'root-cert': { type: 'string' }, 'trust-domain': { type: 'string' }, 'sync-timeout': { type: 'string' },
    'log-level': { type: 'string' }, 'metrics-port': { type: 'string' }, 'readiness-port': { type: 'string' },
  }, USAGE)
  const podArg = required(values.pod, 'pod', USAGE)
  const [namespace, pod] = podArg.includes('/') ? podArg.split('/', 2) as [string, string] : ['default', podArg]
  const target = required(values.xds, 'xds', USAGE)
  const node = required(values.node, 'node', USAGE)
  const port = (n: string, v: string | undefined, d: number): number => {
    if (v === undefined) return d
    const p = Number(v)
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new AmbientError('CLI_USAGE', `--${n}: "${v}" is not a port (0-65535)`, { side: 'config' })
    return p
  }
  const stateDir = values['istiod-state-dir']
  const tokenFile = values['token-file'] ?? (stateDir === undefined ? required(undefined, 'token-file', USAGE) : join(stateDir, 'tokens', `${node}.token`))
  await readFile(tokenFile, 'utf8').catch((err: unknown) => {
    throw new AmbientError('CLI_USAGE', `cannot read the node token ${tokenFile}: ${err instanceof Error ? err.message : String(err)}`, { side: 'config' })
  })
  const logger = createLogger({ component: 'sidecar', level: (values['log-level'] ?? io.env.AMBIENT_LOG_LEVEL ?? 'info') as LogLevel })
  const running = await startXdsSidecar({
    target, node, namespace, pod, logger, tokenFile,
    rootCertFile: values['root-cert'] ?? (stateDir === undefined ? required(undefined, 'root-cert', USAGE) : join(stateDir, 'ca', 'root-cert.pem')),
    ...(values['trust-domain'] === undefined ? {} : { trustDomain: values['trust-domain'] }),
    initialTimeoutMs: parseDurationMs(values['sync-timeout'] ?? '30s', 'sync-timeout'),
    metrics: createMetrics({ processMetrics: true }),
    ports: { metrics: port('metrics-port', values['metrics-port'], 15020), readiness: port('readiness-port', values['readiness-port'], 15021) },
  })
  const why = await io.stopSignal
  logger.info({ event: 'shutdown', signal: why }, 'stopping sidecar')
  await running.close()
  logger.flush()
  return EXIT_OK
}
