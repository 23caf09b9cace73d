// The options `cluster up` and `demo` share: where the cluster keeps its state and which addresses
// and ports it takes (its address plan). One place, so a new runner option (e.g. a capture mode)
// is added once for both commands.
import { resolve } from 'node:path'
import type { ClusterPlanOptions } from '../../cluster/cluster.js'
import { PORT_MAX } from '../../net/address.js'
import { AmbientError } from '../../errors.js'
import { intOption, stringOptions } from '../args.js'
import {
  ADDRESS_PLAN_USAGE,
  CAPTURE_SPEC,
  CAPTURE_USAGE,
  captureMode,
  ISTIOD_PLAN_SPEC,
  ISTIOD_PORTS_USAGE,
  LOG_LEVEL_SPEC,
  LOG_LEVEL_USAGE,
} from './daemon-options.js'

/** Where `cluster up`, `demo`, `cluster status|down`, `zc`, `exec`, `explain` and `ui` meet by default. */
export const DEFAULT_STATE_DIR = '.ambient'

export const CLUSTER_PLAN_SPEC = { ...ISTIOD_PLAN_SPEC, ...stringOptions('node-ips'), ...LOG_LEVEL_SPEC, ...CAPTURE_SPEC }

export const CLUSTER_PLAN_USAGE =
  `[--nodes 2] [--state-dir .ambient] ${ADDRESS_PLAN_USAGE} [--node-ips 127.18.0] ` +
  `${ISTIOD_PORTS_USAGE} ${LOG_LEVEL_USAGE} ${CAPTURE_USAGE}`

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
  const capture = captureMode(values.capture, usage)
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
