// The WaypointConfig contract (src/mesh/waypoint-config.ts) as the L7 proxies read it: a waypoint
// from a file or istiod's push (src/waypoint/config-source.ts), a sidecar from the part of its
// SidecarConfig that holds the same routes, clusters and policies.
import { AmbientError, errorMessage } from '../errors.js'
import type { WaypointConfig } from '../mesh/waypoint-config.js'
import { WAYPOINT_CONFIG_API_VERSION } from '../mesh/waypoint-config.js'
import { L7ErrorCode } from './errors.js'

/**
 * JSON text → WaypointConfig. Checks the version and the shape the data path relies on, and reports
 * every problem at once with its path; the contents were validated by istiod.
 */
export function parseWaypointConfig(text: string, where = 'config'): WaypointConfig {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new AmbientError(L7ErrorCode.configInvalid, `${where}: not JSON: ${errorMessage(err)}`, { side: 'config', cause: err })
  }
  const problems: string[] = []
  const obj = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (obj.apiVersion !== WAYPOINT_CONFIG_API_VERSION)
    problems.push(`apiVersion: expected "${WAYPOINT_CONFIG_API_VERSION}", got ${JSON.stringify(obj.apiVersion)}`)
  for (const key of ['name', 'namespace', 'identity', 'trustDomain'] as const)
    if (typeof obj[key] !== 'string') problems.push(`${key}: expected a string`)
  if (typeof obj.hbonePort !== 'number') problems.push('hbonePort: expected a number')
  for (const key of ['services', 'workloads', 'clusters', 'authorization'] as const)
    if (!Array.isArray(obj[key])) problems.push(`${key}: expected a list`)
  if (typeof obj.defaults !== 'object' || obj.defaults === null) problems.push('defaults: expected an object')
  problems.push(...telemetryProblems(obj.telemetry))
  if (problems.length > 0) {
    throw new AmbientError(L7ErrorCode.configInvalid, `${where}: not a WaypointConfig:\n  ${problems.join('\n  ')}`, {
      side: 'config',
      details: { problems },
    })
  }
  return deepFreeze(value) as WaypointConfig
}

/** `telemetry` is optional (added within v1); when present it must have the contract's shape. */
function telemetryProblems(v: unknown): string[] {
  if (v === undefined) return []
  if (typeof v !== 'object' || v === null) return ['telemetry: expected an object']
  const o = v as Record<string, unknown>
  const out: string[] = []
  if (typeof o.accessLog !== 'boolean') out.push('telemetry.accessLog: expected a boolean')
  if (o.tracing !== null) {
    const p = typeof o.tracing === 'object' ? (o.tracing as Record<string, unknown> | undefined)?.samplingPercent : undefined
    if (typeof p !== 'number' || !(p >= 0 && p <= 100)) out.push('telemetry.tracing: expected null or { samplingPercent: 0-100 }')
  }
  return out
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const child of Object.values(v)) deepFreeze(child)
  }
  return v
}
