// `ambient explain --from POD --to SERVICE|POD|IP[:PORT] [--method M --path P] [--live]`: the
// hop-by-hop path one connection takes through a running cluster (capture → source ztunnel →
// waypoint? → destination ztunnel → pod), the identity at each hop, every policy considered at each
// enforcement point with the deciding rule, the verdict and ambient's traps; predicted from istiod's
// state (src/inspect/explain.ts). `--live` then sends the probe from the pod and shows what happened.
import { resolve } from 'node:path'
import type { Socket } from 'node:net'
import { AmbientError } from '../../errors.js'
import { openCluster } from '../../inspect/cluster-client.js'
import { explain } from '../../inspect/explain.js'
import { formatExplain } from '../../inspect/explain-format.js'
import { formatLive, runLive } from '../../inspect/explain-live.js'
import { formatData, outputOption, parseCommandArgs, parseDurationOption, required, withHelp } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_FAILURE, EXIT_OK } from '../io.js'

const USAGE =
  'ambient explain --from POD --to SERVICE|POD|IP[:PORT] [--method M] [--path P] [-H "name: ' +
  'value"]... [-n NS] [--live] [-o text|json|yaml] [--state-dir .ambient]'

const HELP = `usage: ${USAGE}

The path a connection from pod --from to --to takes through the mesh, hop by hop: capture, the
source ztunnel's plan, the waypoint (L7 authorization and routing) if any, the destination
ztunnel's L4 authorization, the pod. Each hop shows the identity it presents or sees, every policy
considered (MATCH / NO MATCH, the deciding one marked) and the verdict; then ambient's traps
(WAYPOINT_REPLACES_SOURCE, HTTP_RULES_AT_ZTUNNEL, MISSING_WAYPOINT, NO_ALLOW_FOR_WAYPOINT, ...).
Predicted from istiod's /debug/config and /debug/analysis of the running cluster.

  --to       a Service as the pod would name it (reviews, reviews.default, FQDN), a pod or
             Deployment (pod/NAME, deploy/NAME), or an IP; :PORT defaults to the Service's first port
  --method, --path, -H   the HTTP request (what a waypoint reads); without them, a connection
  --live     also send the probe from the pod (through its capture) and show the real outcome and
             the ztunnels' access-log records next to the prediction
  --timeout  for --live (default 5s)

exit: 0 predicted allowed (with --live: the probe agrees), 1 denied (with --live: disagrees), 2 bad usage,
      3 no cluster is running from the state dir
`

export const explainCommand: Command = withHelp(HELP, async (argv, io) => {
  const { values } = parseCommandArgs(
    argv,
    {
      from: { type: 'string' },
      to: { type: 'string' },
      method: { type: 'string', short: 'X' },
      path: { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
      namespace: { type: 'string', short: 'n' },
      live: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      'state-dir': { type: 'string' },
      timeout: { type: 'string' },
    },
    USAGE,
  )
  const from = required(values.from, 'from', USAGE)
  const to = required(values.to, 'to', USAGE)
  const output = outputOption(values.output, undefined, 'text', USAGE)
  const headers: Record<string, string> = {}
  for (const h of values.header ?? []) {
    const i = h.indexOf(':')
    if (i <= 0) throw usage(`-H: "${h}" is not "name: value"`)
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim()
  }
  const timeoutMs = values.timeout === undefined ? 5_000 : parseDurationOption(values.timeout, 'timeout')

  const cluster = openCluster({ stateDir: resolve(io.cwd, values['state-dir'] ?? '.ambient') })
  const istiod = await cluster.istiod()
  const e = explain({
    mesh: istiod.mesh,
    waypoints: istiod.waypoints,
    ztunnelHttpFindings: istiod.findings,
    from,
    to,
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    ...(values.method === undefined ? {} : { method: values.method }),
    ...(values.path === undefined ? {} : { path: values.path }),
    headers,
  })
  if (!values.live) {
    io.stdout(output === 'json' || output === 'yaml' ? formatData(e, output) : `${formatExplain(e).join('\n')}\n`)
    return e.verdict === 'ALLOW' ? EXIT_OK : EXIT_FAILURE
  }
  const pod = cluster.findPod(`${e.source.namespace}/${e.source.pod}`)
  const asked = /^(.*?)(?::(\d+))?$/.exec(to)!
  const host = asked[1]!.replace(/^(pod|deploy|deployment)\//, '')
  const probeHost = e.destination.kind === 'workload' && host !== e.destination.address ? e.destination.address : host
  const identities = [e.source.identity, ...e.hops.filter((h) => h.component === 'waypoint').map((h) => h.identity)].filter(
    (x): x is string => x !== null,
  )
  const logFiles = cluster.state.processes.filter((p) => p.role === 'ztunnel' || p.role === 'waypoint').map((p) => p.logFile)
  const live = await runLive(e, {
    socks: { host: pod.podIP, port: 15080 },
    host: probeHost,
    port: e.destination.port,
    ...(cluster.state.capture?.kind === 'inpod'
      ? { dial: await inpodDial(`${cluster.state.capture.netnsPrefix}${pod.namespace}.${pod.name}`) }
      : {}),
    method: e.request?.method ?? 'GET',
    path: e.request?.path ?? '/',
    headers,
    timeoutMs,
    logFiles,
    identities,
  })
  if (output === 'json' || output === 'yaml') io.stdout(formatData({ explanation: e, live }, output))
  else io.stdout(`${[...formatExplain(e), ...formatLive(e, live)].join('\n')}\n`)
  return live.agrees ? EXIT_OK : EXIT_FAILURE
})

/** In-pod capture: a plain TCP client inside the pod's namespace, names from the pod's hosts file. */
async function inpodDial(netns: string): Promise<(host: string, port: number) => Promise<Socket>> {
  const { connectInPod } = await import('../../cluster/inpod-topology.js')
  return (host, port) => connectInPod(netns, host, port)
}

function usage(message: string): AmbientError {
  return new AmbientError('CLI_USAGE', `${message}\nusage: ${USAGE}`, { side: 'config' })
}
