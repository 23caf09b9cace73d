// What the runner reads from istiod's debug port (15014, /debug/config): the translated workloads
// (where each pod runs, its addresses, its service account) and the waypoint configs. Only the
// fields the runner uses are read; the rest of the JSON stays istiod's business.
import type { WaypointConfig } from '../mesh/waypoint-config.js'

export interface ViewWorkload {
  readonly uid: string
  readonly name: string
  readonly namespace: string
  readonly addresses: readonly string[]
  readonly node: string
  readonly serviceAccount: string
  readonly workloadName: string
  readonly tunnelProtocol: string
  readonly podLocalAddress?: string
}

export interface ViewService {
  readonly name: string
  readonly namespace: string
  readonly hostname: string
  readonly addresses: readonly string[]
}

export interface IstiodView {
  readonly configVersion: number
  readonly workloads: readonly ViewWorkload[]
  readonly waypoints: readonly WaypointConfig[]
  /** The Services (in-pod capture writes their names into each pod's /etc/hosts). */
  readonly services?: readonly ViewService[]
}

export async function fetchIstiodView(debugAddress: string, timeoutMs = 2_000): Promise<IstiodView> {
  const res = await fetch(`http://${debugAddress}/debug/config`, { signal: AbortSignal.timeout(timeoutMs) })
  if (res.status !== 200) throw new Error(`istiod /debug/config answered ${res.status}`)
  const body = (await res.json()) as {
    configVersion?: number
    workloads?: ViewWorkload[]
    waypoints?: WaypointConfig[]
    services?: ViewService[]
  }
  return {
    configVersion: body.configVersion ?? 0,
    workloads: body.workloads ?? [],
    waypoints: body.waypoints ?? [],
    services: body.services ?? [],
  }
}

/** istiod's workload uid for a pod (src/istiod/translate/workloads.ts podUid). */
export function podUid(namespace: string, name: string): string {
  return `Kubernetes//Pod/${namespace}/${name}`
}
