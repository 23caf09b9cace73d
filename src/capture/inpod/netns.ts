// The in-pod capture topology (ARCHITECTURE.md, "In-pod capture"): what `ip` and `iptables-restore`
// build for a cluster, and the sweep that removes it.
//
//   <prefix>fabric   one namespace for the cluster's network: one bridge per node (`br<k>`, gateway
//                    <pods>.k.254/24), IP forwarding on (in that namespace only), no other route.
//   <prefix><ns>.<pod>  one namespace per pod: `eth0` (a veth whose peer is on its node's bridge)
//                    with the pod IP /24, routes to the pod range and the Service VIP range via the
//                    node's gateway and nothing else (no default route, nothing reaches the host).
//                    A captured pod also gets the redirection rules (rules.ts) before anything runs
//                    in it.
//
// Everything is named with the cluster's prefix, so `sweepTopology(prefix)` removes all of it (at
// `cluster down`, on Ctrl-C, and at the next start after a crash). Only the runner and tests call
// this: ztunnel only opens sockets in namespaces that exist.
import { chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AmbientError } from '../../errors.js'
import { run } from './command.js'
import { installCaptureRules } from './rules.js'
import { installSidecarCaptureRules } from './sidecar-rules.js'

/** The redirection a captured pod gets: ambient (TPROXY/REDIRECT to ztunnel) or sidecar (istio-iptables). */
export type InpodRuleset = 'ambient' | 'sidecar'

/** `<prefix><namespace>.<pod>`: the name ztunnel and the runner both derive for a pod. */
export function podNetnsName(prefix: string, namespace: string, name: string): string {
  return `${prefix}${namespace}.${name}`
}

const FABRIC_SUFFIX = 'fabric'

export function fabricNetnsName(prefix: string): string {
  return `${prefix}${FABRIC_SUFFIX}`
}

/** A prefix must make names `ip netns` accepts and that no other cluster shares. */
export function checkPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9-]{1,23}-$/.test(prefix)) {
    throw new AmbientError(
      'CAPTURE_INPOD_BAD_PREFIX',
      `netns prefix "${prefix}" must be 2-24 of [a-z0-9-] starting with a letter and ending in "-"`,
      { side: 'config' },
    )
  }
}

export interface TopologyPlan {
  readonly prefix: string
  /** `10.244`: pod IPs are <pods>.k.j, node k's gateway <pods>.k.254. */
  readonly pods: string
  /** `10.96`: Service VIPs, routed to the node's gateway (the pod's capture redirects them first). */
  readonly services: string
  readonly nodes: number
}

export interface PodNetwork {
  readonly namespace: string
  readonly name: string
  readonly ip: string
  /** 1-based node index (node-k). */
  readonly node: number
  /** Install the redirection rules (the pod is in the mesh). */
  readonly captured: boolean
  /** Which rules: ambient's (rules.ts, default) or a sidecar's (sidecar-rules.ts). */
  readonly ruleset?: InpodRuleset
  /** /etc/hosts inside the pod (`ip netns exec` shows /etc/netns/<name>/hosts as /etc/hosts). */
  readonly hosts?: string
  /** /etc/resolv.conf inside the pod, the same way. */
  readonly resolvConf?: string
}

export async function listNetns(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list'])
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '')
}

/**
 * Files a proxy running inside a pod reads as uid 1337 (a sidecar's token and root certificate):
 * `/run/ambient-inpod/<pod netns>/`, owned by that uid, swept with the namespaces.
 */
export const PROXY_FILES_ROOT = '/run/ambient-inpod'

export async function writeProxyFiles(netnsName: string, uid: number, files: Readonly<Record<string, string>>): Promise<string> {
  await mkdir(PROXY_FILES_ROOT, { recursive: true, mode: 0o755 })
  const dir = join(PROXY_FILES_ROOT, netnsName)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chown(dir, uid, uid)
  for (const [name, text] of Object.entries(files)) {
    const file = join(dir, name)
    await writeFile(file, text, { mode: 0o600 })
    await chown(file, uid, uid)
  }
  return dir
}

/** Removes every namespace (and /etc/netns entry, and proxy files) whose name starts with prefix. Returns their names. */
export async function sweepTopology(prefix: string): Promise<string[]> {
  checkPrefix(prefix)
  const names = (await listNetns()).filter((n) => n.startsWith(prefix))
  // Pods first, the fabric last: deleting a pod namespace deletes its veth pair.
  names.sort((a, b) => Number(a === fabricNetnsName(prefix)) - Number(b === fabricNetnsName(prefix)))
  for (const n of names) await run('ip', ['netns', 'delete', n]).catch(() => undefined)
  const etc = await readdir('/etc/netns').catch(() => [] as string[])
  for (const n of etc.filter((e) => e.startsWith(prefix))) await rm(join('/etc/netns', n), { recursive: true, force: true })
  const files = await readdir(PROXY_FILES_ROOT).catch(() => [] as string[])
  for (const n of files.filter((e) => e.startsWith(prefix))) await rm(join(PROXY_FILES_ROOT, n), { recursive: true, force: true })
  return names
}

export async function createFabric(plan: TopologyPlan): Promise<void> {
  checkPrefix(plan.prefix)
  const fabric = fabricNetnsName(plan.prefix)
  await run('ip', ['netns', 'add', fabric])
  const cmds: string[] = ['link set lo up']
  for (let k = 1; k <= plan.nodes; k++) {
    cmds.push(`link add br${k} type bridge`, `address add ${plan.pods}.${k}.254/24 dev br${k}`, `link set br${k} up`)
  }
  await run('ip', ['-n', fabric, '-batch', '-'], cmds.join('\n') + '\n')
  await run('ip', ['netns', 'exec', fabric, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
}

/**
 * The cluster's ranges exist only inside its namespaces; on the host they would follow the default
 * route off the machine. While a cluster runs, the host blackholes them (a connect fails at once
 * instead of leaving), so no tool, test or stray URL on the host can send cluster traffic outside.
 */
export async function guardHostRoutes(ranges: readonly string[]): Promise<void> {
  for (const r of ranges) await run('ip', ['route', 'replace', 'blackhole', r])
}

/** Drops the guard routes, unless another cluster's fabric still runs (the guard is shared). */
export async function releaseHostRoutes(ranges: readonly string[]): Promise<void> {
  if ((await listNetns()).some((n) => n.endsWith(FABRIC_SUFFIX))) return
  for (const r of ranges) await run('ip', ['route', 'del', 'blackhole', r]).catch(() => undefined)
}

/** The pod's veth on the fabric side: `v<k>-<j>` from the pod IP <pods>.k.j. */
function vethName(ip: string): string {
  const [, , k, j] = ip.split('.')
  return `v${k}-${j}`
}

/** Creates and wires the pod's namespace (createPodNetns, then wirePod); on failure nothing of it is left. */
export async function addPod(plan: TopologyPlan, pod: PodNetwork): Promise<string> {
  const name = await createPodNetns(plan, pod)
  await wirePod(plan, pod)
  return name
}

/** The pod's files under /etc/netns and its bare namespace (loopback down, no interface yet). */
export async function createPodNetns(plan: TopologyPlan, pod: PodNetwork): Promise<string> {
  const name = podNetnsName(plan.prefix, pod.namespace, pod.name)
  try {
    for (const [file, text] of [
      ['hosts', pod.hosts],
      ['resolv.conf', pod.resolvConf],
    ] as const) {
      if (text === undefined) continue
      await mkdir(join('/etc/netns', name), { recursive: true })
      await writeFile(join('/etc/netns', name, file), text)
    }
    await run('ip', ['netns', 'add', name])
  } catch (err) {
    // The pod's files go with a namespace that could not be made (the prefix sweep would find them only later).
    await rm(join('/etc/netns', name), { recursive: true, force: true })
    throw err
  }
  return name
}

/** Loopback up, eth0 on its node's bridge with the pod IP and routes, then the rules when captured. */
export async function wirePod(plan: TopologyPlan, pod: PodNetwork): Promise<void> {
  const name = podNetnsName(plan.prefix, pod.namespace, pod.name)
  const fabric = fabricNetnsName(plan.prefix)
  const gateway = `${plan.pods}.${pod.node}.254`
  const veth = vethName(pod.ip)
  try {
    await run('ip', ['-n', fabric, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name])
    await run('ip', ['-n', fabric, '-batch', '-'], `link set ${veth} master br${pod.node}\nlink set ${veth} up\n`)
    await run(
      'ip',
      ['-n', name, '-batch', '-'],
      [
        'link set lo up',
        `address add ${pod.ip}/24 dev eth0`,
        'link set eth0 up',
        `route add ${plan.pods}.0.0/16 via ${gateway} dev eth0`,
        `route add ${plan.services}.0.0/16 via ${gateway} dev eth0`,
      ].join('\n') + '\n',
    )
    if (pod.captured) await (pod.ruleset === 'sidecar' ? installSidecarCaptureRules(name) : installCaptureRules(name))
  } catch (err) {
    await removePod(plan.prefix, pod.namespace, pod.name)
    throw err
  }
}

export async function removePod(prefix: string, namespace: string, podName: string): Promise<void> {
  const name = podNetnsName(prefix, namespace, podName)
  await run('ip', ['netns', 'delete', name]).catch(() => undefined)
  await rm(join('/etc/netns', name), { recursive: true, force: true })
  await rm(join(PROXY_FILES_ROOT, name), { recursive: true, force: true })
}
