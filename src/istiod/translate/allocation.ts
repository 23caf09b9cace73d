// Addresses, following the loopback address plan of architecture.md: pods on node k get
// 127.244.k.j (the pod IP ztunnel binds) and 127.245.k.j (the pod-local address the app binds),
// Service VIPs are 127.96.x.y. Allocation is pure, `allocate(previous table, wanted) → next table`,
// and STABLE: an object keeps the address it had as long as it exists (and stays on its node), so a
// pod coming or going never renumbers the others and live flows to them survive a re-translation.
// New objects take the lowest free address, in namespace/name order, so a fresh start is
// reproducible. The table is plain JSON, so istiod may persist it across restarts.
import { canonicalIp } from '../../net/ip.js'
import type { ObjectSource } from '../resources/model.js'
import type { MessageSink } from './messages.js'
import { TranslationCode, cmp } from './messages.js'

export interface PodAllocation {
  /** 1-based node index the address was given on. */
  readonly node: number
  readonly ip: string
  /** Absent for an address the config gave (a real cluster's podIP) outside 127.244/16. */
  readonly podLocal?: string
}

export interface AllocationTable {
  readonly version: 1
  /** Pod `namespace/name` → addresses. */
  readonly pods: Readonly<Record<string, PodAllocation>>
  /** Service `namespace/name` → VIP; headless Services have none. */
  readonly services: Readonly<Record<string, string>>
}

export const EMPTY_ALLOCATIONS: AllocationTable = Object.freeze({ version: 1, pods: Object.freeze({}), services: Object.freeze({}) })

/** What a pod needs an address for. */
export interface PodAddressRequest {
  readonly key: string
  readonly node: number
  readonly podIP: string | undefined
  readonly object: string
  readonly source: ObjectSource
}

export interface ServiceAddressRequest {
  readonly key: string
  /** As written; `None` = headless. */
  readonly clusterIP: string | undefined
  readonly object: string
  readonly source: ObjectSource
}

const MAX_HOST = 254

/**
 * The /16 prefixes (first two octets) of the address plan. The defaults are architecture.md's;
 * tests that run several in-process meshes at once move them so the fixed pod ports never collide.
 */
export interface AddressPlan {
  /** Pod IPs: `<pods>.k.j`. Default `127.244`. */
  readonly pods: string
  /** Pod-local addresses: `<podLocal>.k.j`. Default `127.245`. */
  readonly podLocal: string
  /** Service VIPs: `<services>.x.y`. Default `127.96`. */
  readonly services: string
}

export const DEFAULT_ADDRESS_PLAN: AddressPlan = Object.freeze({ pods: '127.244', podLocal: '127.245', services: '127.96' })

export function allocate(
  previous: AllocationTable,
  pods: readonly PodAddressRequest[],
  services: readonly ServiceAddressRequest[],
  sink: MessageSink,
  plan: AddressPlan = DEFAULT_ADDRESS_PLAN,
): AllocationTable {
  return Object.freeze({
    version: 1,
    pods: Object.freeze(allocatePods({ previous, sink, plan }, pods)),
    services: Object.freeze(allocateServices({ previous, sink, plan }, services)),
  })
}

/** The address an object's config may give, and how a conflict over it is told. */
interface GivenAddress<R> {
  /** The given address as written; undefined when the object gives none. */
  readonly value: (r: R) => string | undefined
  readonly field: string
  readonly path: string
  /** Whose address it already is: `another <owner>'s`. */
  readonly owner: string
  /** What is allocated instead. */
  readonly instead: string
  readonly hint: string
}

const GIVEN_POD_IP: GivenAddress<PodAddressRequest> = {
  value: (r) => r.podIP,
  field: 'podIP',
  path: 'status.podIP',
  owner: 'pod',
  instead: 'one',
  hint: 'give each pod its own podIP, or leave status.podIP out',
}

const GIVEN_CLUSTER_IP: GivenAddress<ServiceAddressRequest> = {
  // `None` (headless) and '' ask for no address of their own.
  value: (r) => (r.clusterIP === 'None' || r.clusterIP === '' ? undefined : r.clusterIP),
  field: 'clusterIP',
  path: 'spec.clusterIP',
  owner: 'Service',
  instead: 'a VIP',
  hint: 'give each Service its own clusterIP, or leave it out',
}

/** What both allocations read: the previous table, where messages go, the address plan. */
interface Allocating {
  readonly previous: AllocationTable
  readonly sink: MessageSink
  readonly plan: AddressPlan
}

/**
 * Starts an allocation: the requests in key order, and each address the config gives claimed in that
 * order (`entry` makes the object's table entry of it); one that is no IP or is already taken is
 * warned about and left to allocation.
 */
function claimGiven<R extends { readonly key: string; readonly object: string; readonly source: ObjectSource }, V>(
  requests: readonly R[],
  given: GivenAddress<R>,
  sink: MessageSink,
  entry: (r: R, ip: string) => V,
): { readonly sorted: readonly R[]; readonly taken: Set<string>; readonly out: Map<string, V> } {
  const sorted = [...requests].sort((a, b) => cmp(a.key, b.key))
  const taken = new Set<string>()
  const out = new Map<string, V>()
  for (const r of sorted) {
    const value = given.value(r)
    if (value === undefined) continue
    const ip = canonicalIp(value)
    if (ip === undefined || taken.has(ip)) {
      sink.add({
        code: TranslationCode.addressConflict,
        severity: 'warning',
        object: r.object,
        path: given.path,
        source: r.source,
        reason:
          ip === undefined
            ? `${given.field} "${value}" is not an IP address; ${given.instead} is allocated`
            : `${given.field} ${ip} is already another ${given.owner}'s; ${given.instead} is allocated`,
        hint: given.hint,
      })
      continue
    }
    taken.add(ip)
    out.set(r.key, entry(r, ip))
  }
  return { sorted, taken, out }
}

function allocatePods({ previous, sink, plan }: Allocating, requests: readonly PodAddressRequest[]): Record<string, PodAllocation> {
  // 1. Addresses the config gives win: they are facts of the cluster being replayed.
  const { sorted, taken, out } = claimGiven(requests, GIVEN_POD_IP, sink, (r, ip): PodAllocation => {
    const local = podLocalFor(ip, plan)
    return local === undefined ? { node: r.node, ip } : { node: r.node, ip, podLocal: local }
  })
  // 2. Pods that had an address on the same node keep it, before any newcomer picks — if it is in
  //    this plan (a table written under another plan, e.g. by an in-pod run in the same state
  //    directory, names addresses this one cannot serve).
  const inPlan = (prev: PodAllocation): prev is PodAllocation & { readonly podLocal: string } =>
    prev.ip.startsWith(`${plan.pods}.`) && prev.podLocal?.startsWith(`${plan.podLocal}.`) === true
  for (const r of sorted) {
    if (out.has(r.key)) continue
    const prev = previous.pods[r.key]
    if (prev === undefined || prev.node !== r.node || taken.has(prev.ip) || !inPlan(prev)) continue
    taken.add(prev.ip)
    out.set(r.key, { node: r.node, ip: prev.ip, podLocal: prev.podLocal })
  }
  // 3. Newcomers: lowest free host number on their node.
  for (const r of sorted) {
    if (out.has(r.key)) continue
    let j = 1
    while (j <= MAX_HOST && taken.has(`${plan.pods}.${r.node}.${j}`)) j++
    if (j > MAX_HOST || r.node > 255) {
      const used = `${plan.pods}.${r.node}.1-${MAX_HOST} are all used`
      leftOut(sink, r, `no free pod address on node-${r.node} (${used}); the pod is left out`, 'use more nodes or fewer replicas')
      continue
    }
    const ip = `${plan.pods}.${r.node}.${j}`
    taken.add(ip)
    out.set(r.key, { node: r.node, ip, podLocal: `${plan.podLocal}.${r.node}.${j}` })
  }
  return Object.fromEntries([...out].sort(([a], [b]) => cmp(a, b)).map(([k, v]) => [k, Object.freeze(v)]))
}

/** An object left out of the table: every address it could take is used. */
function leftOut(sink: MessageSink, r: { readonly object: string; readonly source: ObjectSource }, reason: string, hint: string): void {
  sink.add({ code: TranslationCode.addressExhausted, severity: 'error', object: r.object, path: '', source: r.source, reason, hint })
}

/** 127.244.k.j → 127.245.k.j (in the plan's prefixes); anything else has no pod-local twin. */
function podLocalFor(ip: string, plan: AddressPlan): string | undefined {
  if (!ip.startsWith(`${plan.pods}.`)) return undefined
  const m = /^(\d+)\.(\d+)$/.exec(ip.slice(plan.pods.length + 1))
  return m === null ? undefined : `${plan.podLocal}.${m[1]}.${m[2]}`
}

function allocateServices({ previous, sink, plan }: Allocating, requests: readonly ServiceAddressRequest[]): Record<string, string> {
  const { sorted, taken, out } = claimGiven(requests, GIVEN_CLUSTER_IP, sink, (_r, ip) => ip)
  const wantsVip = (r: ServiceAddressRequest): boolean => r.clusterIP !== 'None'
  for (const r of sorted) {
    const prev = previous.services[r.key]
    if (out.has(r.key) || !wantsVip(r) || prev === undefined || taken.has(prev) || !prev.startsWith(`${plan.services}.`)) continue
    taken.add(prev)
    out.set(r.key, prev)
  }
  let next = 1 // host index within 127.96.0.0/16, skipping .0 and .255 of each /24
  for (const r of sorted) {
    if (out.has(r.key) || !wantsVip(r)) continue
    let ip: string | undefined
    for (; next < 256 * 256; next++) {
      const x = next >> 8
      const y = next & 0xff
      if (y === 0 || y === 255) continue
      const candidate = `${plan.services}.${x}.${y}`
      if (!taken.has(candidate)) {
        ip = candidate
        break
      }
    }
    if (ip === undefined) {
      leftOut(sink, r, `no free Service VIP in ${plan.services}.0.0/16; the Service is left out`, 'remove unused Services')
      continue
    }
    taken.add(ip)
    out.set(r.key, ip)
  }
  return Object.fromEntries([...out].sort(([a], [b]) => cmp(a, b)))
}
