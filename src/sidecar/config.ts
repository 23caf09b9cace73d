// The sidecar's config at the edge: a SidecarConfig document (src/mesh/sidecar-config.ts) is a
// WaypointConfig, checked by the waypoint's parser, plus the `sidecar` part checked here. Past this
// module the config is a frozen, trusted value. Also the two views the data path uses.
import { AmbientError } from '../errors.js'
import type { SidecarConfig } from '../mesh/sidecar-config.js'
import type { WaypointConfig } from '../mesh/waypoint-config.js'
import { parseWaypointConfig } from '../l7/waypoint-config.js'
import { SidecarErrorCode } from './mtls.js'

export function parseSidecarConfig(text: string, where = 'config'): SidecarConfig {
  let base: WaypointConfig
  try {
    base = parseWaypointConfig(text, where)
  } catch (err) {
    throw new AmbientError(SidecarErrorCode.configInvalid, err instanceof Error ? err.message : String(err), { side: 'config', cause: err })
  }
  const problems: string[] = []
  const sc = (base as Partial<SidecarConfig>).sidecar
  if (typeof sc !== 'object' || sc === null) problems.push('sidecar: expected an object')
  else {
    const pod = sc.pod as Record<string, unknown> | undefined
    for (const key of ['uid', 'name', 'namespace', 'podIp', 'podLocalAddress'] as const)
      if (typeof pod?.[key] !== 'string') problems.push(`sidecar.pod.${key}: expected a string`)
    const peer = pod?.peer as Record<string, unknown> | undefined | null
    if (peer !== undefined) {
      if (typeof peer !== 'object' || peer === null) problems.push('sidecar.pod.peer: expected an object')
      else {
        for (const key of ['workloadName', 'canonicalName', 'canonicalRevision', 'clusterId'] as const)
          if (typeof peer[key] !== 'string') problems.push(`sidecar.pod.peer.${key}: expected a string`)
      }
    }
    if (!Array.isArray(sc.ports)) problems.push('sidecar.ports: expected a list')
    if (!Array.isArray(sc.peerAuthentication)) problems.push('sidecar.peerAuthentication: expected a list')
  }
  if (problems.length > 0)
    throw new AmbientError(SidecarErrorCode.configInvalid, `${where}: not a SidecarConfig:\n  ${problems.join('\n  ')}`, {
      side: 'config',
      details: { problems },
    })
  return base as SidecarConfig
}

/** Outbound: every Service the pod may call; no policy (the destination's sidecar enforces it). */
export function outboundView(c: SidecarConfig): WaypointConfig {
  return { ...c, workloads: [], authorization: [] }
}
