// Installs the in-pod redirection rules (deploy/capture/ambient-inpod.rules, Istio's ambient
// ruleset as one iptables-restore file) and the policy route their marks need, in one pod's
// network namespace: by name (`ip netns exec`, the runner's topology) or by path (`nsenter --net`,
// the node agent, which finds namespaces under /proc too). Installing again is harmless
// (iptables-restore replaces the tables, the route is replaced, the rule added only when missing).
//
// Kubelet probes: the node SNATs its own probe traffic to PROBE_SNAT_IP (Istio's istio-cni does,
// on the host), and the ruleset lets TCP from that address in and replies to it out untouched, so
// a probe reaches the app in plaintext even under STRICT mTLS (the two 169.254.7.127 lines).
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from './command.js'

/** ztunnel's own sockets carry this mark and are never captured (Istio's value). */
export const ZTUNNEL_MARK = 0x539
/** Connections ztunnel accepted or opened transparently; their replies route back locally. */
export const CONNMARK = 0x111
export const ROUTE_TABLE = 100
/** The node's link-local source for kubelet probes (Istio's default): never redirected in the pod. */
export const PROBE_SNAT_IP = '169.254.7.127'

/** src/capture/inpod and dist/capture/inpod are both three levels below the package root. */
export const RULES_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'deploy', 'capture', 'ambient-inpod.rules')

export function captureRules(): string {
  return readFileSync(RULES_PATH, 'utf8')
}

/** The command prefix that runs a program inside netns: a name under /run/netns, or a path. */
export function inNetns(netns: string): string[] {
  return netns.startsWith('/') ? ['nsenter', `--net=${netns}`] : ['ip', 'netns', 'exec', netns]
}

export async function installCaptureRules(netns: string): Promise<void> {
  const [cmd, ...prefix] = inNetns(netns)
  const exec = (args: string[], input?: string) => run(cmd!, [...prefix, ...args], input)
  await exec(['iptables-restore'], captureRules())
  const mark = `0x${CONNMARK.toString(16)}/0xfff`
  const rules = await exec(['ip', 'rule', 'show', 'pref', '32764'])
  const batch = [`route replace local 0.0.0.0/0 dev lo table ${ROUTE_TABLE}`]
  if (!rules.stdout.includes(`lookup ${ROUTE_TABLE}`)) batch.unshift(`rule add fwmark ${mark} pref 32764 lookup ${ROUTE_TABLE}`)
  await exec(['ip', '-batch', '-'], batch.join('\n') + '\n')
}
