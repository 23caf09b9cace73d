// The runner's side of in-pod capture (`cluster up --capture inpod`, ARCHITECTURE.md "In-pod
// capture"): the cluster's namespaces (src/capture/inpod/netns.ts), each pod's resolv.conf (the
// nameserver is answered by ztunnel's DNS proxy, src/ztunnel/dns), the
// order that keeps a new pod unreachable until it is captured, and the relay that lets a waypoint
// in its own namespace reach istiod on the host's 127.0.0.1.
//
// Order for a pod: namespace + veth + rules (captured pods) → ztunnel reports the pod's listeners
// ready (its readiness lists pending pods) → the app starts (`ip netns exec`). Traffic to a
// captured pod before its listeners exist meets the rules and no listener: refused, never bypassed.
import { createHash } from 'node:crypto'
import net from 'node:net'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { httpGet } from './sample-apps/http-client.js'
import { connectProbe } from './connect-probe.js'
import { listenOnFd } from '../net/listen.js'
import { loadCaptureAddon, netnsPath, socketFromFd } from '../capture/inpod/addon.js'
import {
  addPod,
  createFabric,
  guardHostRoutes,
  podNetnsName,
  releaseHostRoutes,
  removePod,
  sweepTopology,
  type InpodRuleset,
  type TopologyPlan,
} from '../capture/inpod/netns.js'
import type { InpodNeeds } from '../capture/inpod/preflight.js'
import { requireInpod } from '../capture/inpod/preflight.js'
import { ZTUNNEL_MARK } from '../capture/inpod/rules.js'

export const INPOD_ADDRESS_PLAN = '10.244,10.245,10.96'

/** A per-state-dir prefix: two clusters from two directories never share a namespace name. */
export function inpodPrefix(stateDir: string): string {
  return `amb${createHash('sha256').update(stateDir).digest('hex').slice(0, 6)}-`
}

/** The nameserver pods are given: an address in the Service range, so the query is routed and the pod's rules send it to ztunnel's DNS proxy (15053). */
export const POD_NAMESERVER = '10.96.0.10'

export interface HostsService {
  readonly name: string
  readonly namespace: string
  readonly hostname: string
  readonly addresses: readonly string[]
}

/**
 * /etc/hosts of a pod in `namespace`: localhost and every Service's VIP under its Kubernetes names
 * (short name in its own namespace). What kube-dns would answer, for the pods whose DNS ztunnel does
 * not capture (sidecar mode, pods out of the mesh, waypoints); the runner rewrites it when Services
 * change. Ambient pods get localhost only (no services): ztunnel's DNS proxy answers them.
 */
export function podHosts(namespace: string, services: readonly HostsService[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback']
  for (const s of [...services].sort((a, b) => a.hostname.localeCompare(b.hostname))) {
    const vip = s.addresses.find((a) => net.isIPv4(a))
    if (vip === undefined) continue
    const names = [s.hostname, `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`, ...(s.namespace === namespace ? [s.name] : [])]
    lines.push(`${vip}\t${[...new Set(names)].join(' ')}`)
  }
  return `${lines.join('\n')}\n`
}

/** /etc/resolv.conf of a pod in `namespace`: Kubernetes' search domains, the nameserver ztunnel answers for. */
export function podResolvConf(namespace: string, clusterDomain = 'cluster.local'): string {
  return `nameserver ${POD_NAMESERVER}\nsearch ${namespace}.svc.${clusterDomain} svc.${clusterDomain} ${clusterDomain}\noptions ndots:5\n`
}

const resolved = new Map<string, string>()

/** Resolves a name as the pod would (`getent hosts` inside its namespace: the pod's resolver, ztunnel's DNS proxy). Cached per process. */
export async function lookupInPod(netnsName: string, host: string): Promise<string> {
  if (net.isIP(host)) return host
  const key = `${netnsName} ${host}`
  const hit = resolved.get(key)
  if (hit !== undefined) return hit
  const ip = await new Promise<string>((resolve, reject) => {
    execFile('ip', ['netns', 'exec', netnsName, 'getent', 'ahostsv4', host], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => {
      const found = /^(\S+)/.exec(stdout)?.[1]
      if (err !== null || found === undefined) reject(new Error(`${host}: no such host in ${netnsName}`))
      else resolve(found)
    })
  })
  resolved.set(key, ip)
  return ip
}

/** A plain TCP connection from inside a pod's namespace (no mark: the pod's rules capture it). */
export async function connectInPod(netnsName: string, host: string, port: number): Promise<net.Socket> {
  const ip = await lookupInPod(netnsName, host)
  return new Promise((resolve, reject) => {
    const s = socketFromFd(loadCaptureAddon().socketTcp(netnsPath(netnsName), net.isIPv6(ip) ? 6 : 4, 0, false, '', 0))
    s.once('error', reject)
    s.connect(port, ip, () => {
      s.off('error', reject)
      resolve(s)
    })
  })
}

/**
 * GET url as a client inside a pod's namespace would (a plain socket made there, no mark: the pod's
 * rules capture it), the name resolved by the pod's resolver. The demo's traffic in inpod mode.
 */
export async function httpGetInPod(
  netnsName: string,
  url: string,
  options: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(url)
  const port = Number(u.port || 80)
  const ip = await lookupInPod(netnsName, u.hostname)
  const addon = loadCaptureAddon()
  return httpGet(url, options, () => socketFromFd(addon.socketTcp(netnsPath(netnsName), 4, 0, false, '', 0)).connect(port, ip))
}

/**
 * 127.0.0.1:<port> inside the namespace, relayed to 127.0.0.1:<port> on the host: how a proxy in a
 * pod's namespace (a waypoint, an in-pod sidecar) reaches istiod. Closing the server stops new
 * relays; a connection already relayed lasts until either end closes it (its proxy exiting).
 */
export async function relayHostPort(netnsName: string, port: number): Promise<net.Server> {
  const fd = loadCaptureAddon().listenTcp(netnsPath(netnsName), '127.0.0.1', port, 64, false)
  const server = net.createServer({ allowHalfOpen: true }, (inside) => {
    const host = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    inside.on('error', () => host.destroy())
    host.on('error', () => inside.destroy())
    inside.pipe(host).pipe(inside)
  })
  // A failed listen closes the fd (listenOnFd): a relay that could not start leaks none.
  await listenOnFd(server, { host: '127.0.0.1', port, fd })
  return server
}

export interface InpodTopology {
  readonly prefix: string
  netnsName(namespace: string, name: string): string
  /** Creates the pod's namespace (with rules when captured), its hosts file and resolv.conf. */
  addPod(
    pod: { namespace: string; name: string; ip: string; node: string; captured: boolean; ruleset?: InpodRuleset },
    hosts: string,
  ): Promise<void>
  removePod(namespace: string, name: string): Promise<void>
  /** Rewrites a live pod's hosts file (same file, so the pod's bind mount sees it). */
  updateHosts(namespace: string, name: string, hosts: string): Promise<void>
  /**
   * Whether host:port answers a TCP connect made inside the pod's namespace with ztunnel's mark (so
   * the pod's rules let it through): the runner's readiness probes. Never probe pod addresses from
   * the host: the cluster's ranges exist only inside its namespaces, and out here they would leave
   * the machine.
   */
  canConnect(namespace: string, name: string, host: string, port: number): Promise<boolean>
  /** GET url from inside the pod's namespace: 200 or not (a waypoint's readiness). */
  isReady(namespace: string, name: string, url: string): Promise<boolean>
  /** 127.0.0.1:<port> inside the pod's namespace, relayed to 127.0.0.1:<port> on the host (istiod). */
  relayIstiod(namespace: string, name: string, port: number): Promise<void>
  close(): Promise<void>
}

export async function startInpodTopology(options: {
  stateDir: string
  nodes: number
  uid: number | undefined
  prefix?: string
  needs?: InpodNeeds
}): Promise<InpodTopology> {
  const prefix = options.prefix ?? inpodPrefix(options.stateDir)
  await requireInpod(`${prefix}probe`, options.uid, options.needs)
  await sweepTopology(prefix)
  const [pods, , services] = INPOD_ADDRESS_PLAN.split(',') as [string, string, string]
  const plan: TopologyPlan = { prefix, pods, services, nodes: options.nodes }
  await guardHostRoutes(HOST_GUARDED)
  await createFabric(plan)
  const relays = new Map<string, net.Server[]>()
  const dropRelays = (key: string): void => {
    for (const s of relays.get(key) ?? []) s.close()
    relays.delete(key)
  }
  return {
    prefix,
    netnsName: (namespace, name) => podNetnsName(prefix, namespace, name),
    async addPod(pod, hosts) {
      const node = Number(/(\d+)$/.exec(pod.node)?.[1] ?? '1')
      await addPod(plan, {
        namespace: pod.namespace,
        name: pod.name,
        ip: pod.ip,
        node,
        captured: pod.captured,
        ...(pod.ruleset === undefined ? {} : { ruleset: pod.ruleset }),
        hosts,
        resolvConf: podResolvConf(pod.namespace),
      })
    },
    async updateHosts(namespace, name, hosts) {
      await writeFile(join('/etc/netns', podNetnsName(prefix, namespace, name), 'hosts'), hosts)
    },
    async removePod(namespace, name) {
      dropRelays(`${namespace}/${name}`)
      await removePod(prefix, namespace, name)
    },
    async canConnect(namespace, name, host, port) {
      let socket: net.Socket
      try {
        socket = socketFromFd(
          loadCaptureAddon().socketTcp(
            netnsPath(podNetnsName(prefix, namespace, name)),
            net.isIPv6(host) ? 6 : 4,
            ZTUNNEL_MARK,
            false,
            '',
            0,
          ),
        )
      } catch {
        return false
      }
      return connectProbe(socket, host, port)
    },
    async isReady(namespace, name, url) {
      return httpGetInPod(podNetnsName(prefix, namespace, name), url, { timeoutMs: 1_000 }).then(
        (r) => r.status === 200,
        () => false,
      )
    },
    async relayIstiod(namespace, name, port) {
      const server = await relayHostPort(podNetnsName(prefix, namespace, name), port)
      const key = `${namespace}/${name}`
      relays.set(key, [...(relays.get(key) ?? []), server])
    },
    async close() {
      for (const key of [...relays.keys()]) dropRelays(key)
      await sweepInpodCluster(prefix)
    },
  }
}

/** The cluster's pod and Service ranges, blackholed on the host while a cluster runs. */
const HOST_GUARDED = INPOD_ADDRESS_PLAN.split(',')
  .filter((_, i) => i !== 1)
  .map((p) => `${p}.0.0/16`)

/** Removes a cluster's namespaces (a killed runner's too) and, if it was the last, the host guard. */
export async function sweepInpodCluster(prefix: string): Promise<void> {
  await sweepTopology(prefix)
  await releaseHostRoutes(HOST_GUARDED)
}
