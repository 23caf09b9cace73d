// The options `cluster up` and `demo` share: where the cluster keeps its state and which addresses
// and ports it takes (its address plan). One place, so a new runner option (e.g. a capture mode)
// is added once for both commands.
import { resolve } from 'node:path'
import type { ClusterPlanOptions } from '../../cluster/cluster.js'
import { PORT_MAX } from '../../net/address.js'
import { AmbientError } from '../../errors.js'
import { intOption } from '../args.js'

/** Where `cluster up`, `demo`, `cluster status|down`, `zc`, `exec`, `explain` and `ui` meet by default. */
export const DEFAULT_STATE_DIR = '.ambient'

export const CLUSTER_PLAN_SPEC = {
  nodes: { type: 'string' },
  'state-dir': { type: 'string' },
  'address-plan': { type: 'string' },
  'node-ips': { type: 'string' },
  'grpc-port': { type: 'string' },
  'debug-port': { type: 'string' },
  'log-level': { type: 'string' },
  capture: { type: 'string' },
} as const

export const CLUSTER_PLAN_USAGE =
  '[--nodes 2] [--state-dir .ambient] [--address-plan 127.244,127.245,127.96] [--node-ips 127.18.0] ' +
  '[--grpc-port 15012] [--debug-port 15014] [--log-level info] [--capture socks|inpod]'

export interface ClusterPlanValues {
  readonly nodes?: string | undefined
  readonly 'state-dir'?: string | undefined
  readonly 'address-plan'?: string | undefined
  readonly 'node-ips'?: string | undefined
  readonly 'grpc-port'?: string | undefined
  readonly 'debug-port'?: string | undefined
  readonly 'log-level'?: string | undefined
  readonly capture?: string | undefined
}

export function stateDirOf(cwd: string, value: string | undefined): string {
  return resolve(cwd, value ?? DEFAULT_STATE_DIR)
}

/** The parsed plan; every number is checked (CLI_BAD_NUMBER), prefixes too (CLI_USAGE). */
export function clusterPlan(values: ClusterPlanValues, usage: string, defaults: { nodes: number; logLevel?: string }): ClusterPlanOptions {
  const nodes = values.nodes === undefined ? defaults.nodes : intOption(values.nodes, 'nodes', 1, 254)
  const nodeIps = values['node-ips'] ?? '127.18.0'
  if (!/^127\.\d{1,3}\.\d{1,3}$/.test(nodeIps))
    throw new AmbientError('CLI_USAGE', `--node-ips: "${nodeIps}" is not a loopback /24 prefix like 127.18.0\nusage: ${usage}`, {
      side: 'config',
    })
  const logLevel = values['log-level'] ?? defaults.logLevel
  const capture = values.capture ?? 'socks'
  if (capture !== 'socks' && capture !== 'inpod')
    throw new AmbientError('CLI_USAGE', `--capture: "${capture}" is not socks or inpod\nusage: ${usage}`, { side: 'config' })
  return {
    nodes,
    nodeIpPrefix: nodeIps,
    ...(values['address-plan'] === undefined ? {} : { addressPlan: values['address-plan'] }),
    istiodPorts: {
      grpc: values['grpc-port'] === undefined ? 15012 : intOption(values['grpc-port'], 'grpc-port', 0, PORT_MAX),
      debug: values['debug-port'] === undefined ? 15014 : intOption(values['debug-port'], 'debug-port', 0, PORT_MAX),
    },
    ...(logLevel === undefined ? {} : { logLevel }),
    // In-pod capture needs root; the runner checks (and names what is missing) with this uid.
    ...(capture === 'inpod' ? { capture, ...(process.getuid === undefined ? {} : { uid: process.getuid() }) } : {}),
  }
}
