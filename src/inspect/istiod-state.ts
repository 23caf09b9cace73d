// What `explain` predicts from: istiod's translated state as its debug port serves it
// (/debug/config: workloads, services, policies, waypoint configs) and its findings
// (/debug/analysis). We read istiod rather than a ztunnel's /config_dump because istiod's view is
// complete (every workload and every waypoint config, in one place) and is exactly what it pushes to
// every ztunnel. The JSON is the domain values with Maps written as objects; this is the inverse,
// and MeshState.replaceAll validates the result (addresses canonical, keys unique).
import { AmbientError } from '../errors.js'
import { MeshState } from '../mesh/state.js'
import type { Authorization, GatewayAddress, PortMapping, Service, Workload } from '../mesh/types.js'
import { WAYPOINT_CONFIG_API_VERSION, type WaypointConfig } from '../mesh/waypoint-config.js'

export const IstiodStateErrorCode = {
  badConfig: 'INSPECT_BAD_ISTIOD_CONFIG',
} as const

export interface IstiodState {
  readonly configVersion: number
  readonly mesh: MeshState
  readonly waypoints: readonly WaypointConfig[]
}

type Json = Record<string, unknown>

/** /debug/config's JSON → mesh state and waypoint configs. Throws a coded error on a shape it does not know. */
export function parseIstiodConfig(body: unknown): IstiodState {
  if (typeof body !== 'object' || body === null) throw bad('not a JSON object')
  const b = body as Json
  const list = (k: string): Json[] => {
    const v = b[k]
    if (!Array.isArray(v)) throw bad(`"${k}" is not a list`)
    return v as Json[]
  }
  const workloads = list('workloads').map(parseWorkload)
  const services = list('services').map(parseService)
  const policies = list('policies') as unknown as Authorization[]
  const waypoints = list('waypoints') as unknown as WaypointConfig[]
  for (const w of waypoints) {
    if (w.apiVersion !== WAYPOINT_CONFIG_API_VERSION)
      throw bad(`waypoint ${w.namespace}/${w.name} has apiVersion ${String(w.apiVersion)}, not ${WAYPOINT_CONFIG_API_VERSION}`)
  }
  const mesh = new MeshState()
  try {
    mesh.replaceAll({ workloads, services, policies })
  } catch (err) {
    throw bad(`istiod's state does not validate: ${(err as Error).message}`, err)
  }
  return { configVersion: typeof b.configVersion === 'number' ? b.configVersion : 0, mesh, waypoints }
}

function parseWorkload(j: Json): Workload {
  const services = new Map<string, readonly PortMapping[]>()
  const raw = j.services
  if (raw !== null && typeof raw === 'object') {
    for (const [key, ports] of Object.entries(raw as Json)) {
      if (!Array.isArray(ports)) throw bad(`workload ${String(j.uid)}: services["${key}"] is not a list`)
      services.set(
        key,
        (ports as Json[]).map((p) => ({ servicePort: Number(p.servicePort), targetPort: Number(p.targetPort) })),
      )
    }
  }
  const { services: _s, waypoint, ...rest } = j
  return { ...(rest as unknown as Omit<Workload, 'services' | 'waypoint'>), waypoint: gateway(waypoint), services }
}

function parseService(j: Json): Service {
  const { waypoint, ...rest } = j
  return { ...(rest as unknown as Omit<Service, 'waypoint'>), waypoint: gateway(waypoint) }
}

function gateway(v: unknown): GatewayAddress | undefined {
  return v === null || v === undefined ? undefined : (v as GatewayAddress)
}

function bad(message: string, cause?: unknown): AmbientError {
  return new AmbientError(IstiodStateErrorCode.badConfig, `istiod /debug/config: ${message}`, {
    side: 'upstream',
    ...(cause === undefined ? {} : { cause }),
  })
}

/** One analysis message as /debug/analysis serves it (the fields we read). */
export interface AnalysisEntry {
  readonly code: string
  readonly name?: string
  readonly message: string
  readonly object: string | null
}

/**
 * Policy `namespace/name` → istiod's finding that ztunnel enforces it without its HTTP rules
 * (AMB0101 ZtunnelHttpAttributes, located on `AuthorizationPolicy/namespace/name` or
 * `AuthorizationPolicy namespace/name`).
 */
export function ztunnelHttpFindings(messages: readonly AnalysisEntry[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of messages) {
    if (m.code !== 'AMB0101' || m.object === null) continue
    const key = policyKeyOf(m.object)
    if (key !== undefined && !out.has(key)) out.set(key, m.message)
  }
  return out
}

/** The same findings from a translation's messages (tests and config-file mode). */
export function ztunnelHttpFindingsFromTranslation(
  messages: readonly { readonly detailCode?: string; readonly object: string; readonly reason: string }[],
): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of messages) {
    if (m.detailCode !== 'AUTHZ_HTTP_ATTRIBUTES_IGNORED') continue
    const key = policyKeyOf(m.object)
    if (key !== undefined && !out.has(key)) out.set(key, m.reason)
  }
  return out
}

function policyKeyOf(object: string): string | undefined {
  const m = /^AuthorizationPolicy[/ ]([^/\s]+)\/([^/\s]+)$/.exec(object.trim())
  return m ? `${m[1]}/${m[2]}` : undefined
}
