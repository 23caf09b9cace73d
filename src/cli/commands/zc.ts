// `ambient zc workloads|services|policies|certificates|connections [--node N] [--pod P] [-o table|json|yaml]`
// and `ambient zc pod P`: istioctl ztunnel-config's views, read from the running cluster's ztunnels
// (/config_dump on each node's admin port 15000). `--pod` picks the pod's own node's ztunnel and
// narrows the view to it; `zc pod P` (or `zc --pod P` alone) shows everything about that pod.
import { resolve } from 'node:path'
import { AmbientError } from '../../errors.js'
import { openCluster, ZTUNNEL_ADMIN_PORT } from '../../inspect/cluster-client.js'
import { podReport, render, renderPodReport, viewRows, ZC_VIEWS, type OutputFormat, type ZcView } from '../../inspect/zc.js'
import { parseCommandArgs, withHelp } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE = `ambient zc ${ZC_VIEWS.join('|')}|pod [POD] [--node N] [--pod P] [-n NS] [-o table|json|yaml] [--state-dir .ambient]`

const HELP = `usage: ${USAGE}

ztunnel config views (like istioctl ztunnel-config) from the running cluster's ztunnels:
  workloads     NAMESPACE, POD NAME, ADDRESS, NODE, WAYPOINT, PROTOCOL
  services      NAMESPACE, SERVICE NAME, SERVICE VIP, WAYPOINT, ENDPOINTS (healthy/all)
  policies      NAMESPACE, POLICY NAME, ACTION, SCOPE, RULES, DRY-RUN
  certificates  the workload certificates the ztunnel holds
  connections   the ztunnel's live flows
  pod POD       everything about one pod: node, ztunnel, workload, waypoint, services, policies,
                certificate and connections

  --node N  which ztunnel (default: the pod's with --pod, else node-1; certificates and
            connections are per ztunnel)
  --pod P   only what concerns pod P (name, Deployment or NAMESPACE/NAME)
`

export const zcCommand: Command = withHelp(HELP, async (argv, io) => {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      node: { type: 'string' },
      pod: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      output: { type: 'string', short: 'o' },
      'state-dir': { type: 'string' },
    },
    USAGE,
    true,
  )
  const format = (values.output ?? 'table') as OutputFormat
  if (!['table', 'json', 'yaml'].includes(format)) throw usage(`-o: "${format}" is not table, json or yaml`)
  const [view, arg, ...extra] = positionals
  if (extra.length > 0) throw usage(`unexpected arguments: ${extra.join(' ')}`)
  const podRef = view === 'pod' ? (arg ?? values.pod) : values.pod
  if (view !== undefined && view !== 'pod' && !(ZC_VIEWS as readonly string[]).includes(view)) throw usage(`unknown view "${view}"`)
  if (view === 'pod' && podRef === undefined) throw usage('name the pod: `zc pod POD`')
  if (view === undefined && podRef === undefined) throw usage('name a view, or a pod with --pod')
  if (arg !== undefined && view !== 'pod') throw usage(`unexpected argument "${arg}"`)

  const cluster = openCluster({ stateDir: resolve(io.cwd, values['state-dir'] ?? '.ambient') })
  const pod = podRef === undefined ? undefined : cluster.findPod(podRef, values.namespace)
  const node = values.node ?? pod?.node ?? cluster.state.nodes[0]?.name
  if (node === undefined) throw new AmbientError('INSPECT_NO_NODES', 'the cluster has no nodes', { side: 'config' })
  const dump = await cluster.configDump(node)
  const trustDomain = String(dump.config.trustDomain ?? 'cluster.local')
  const identity = pod === undefined ? '' : `spiffe://${trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccount}`

  if (pod !== undefined && (view === undefined || view === 'pod')) {
    const ip = cluster.state.nodes.find((n) => n.name === node)?.ip ?? '?'
    io.stdout(renderPodReport(podReport(pod, identity, `http://${ip}:${ZTUNNEL_ADMIN_PORT}/config_dump`, dump), format))
    return EXIT_OK
  }
  const filter = pod === undefined ? undefined : { namespace: pod.namespace, name: pod.name, ip: pod.podIP, identity }
  io.stdout(render(view as ZcView, viewRows(view as ZcView, dump, filter), format))
  return EXIT_OK
})

function usage(message: string): AmbientError {
  return new AmbientError('CLI_USAGE', `${message}\nusage: ${USAGE}`, { side: 'config' })
}
