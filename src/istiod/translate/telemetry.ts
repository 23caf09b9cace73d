// Telemetry API (telemetry.istio.io) → a waypoint's `telemetry` (src/mesh/waypoint-config.ts).
// Istio's layering: the root namespace's Telemetry (mesh-wide), then the waypoint's namespace
// (without a selector/targetRefs), then one that targets the waypoint Gateway (`targetRefs` kind
// Gateway, or a `selector` on `gateway.networking.k8s.io/gateway-name`); a narrower one replaces the
// wider one's `accessLogging` / `tracing` when it sets them.
// Defaults without any Telemetry: no access log and no tracing. (Istio's install profiles turn the
// access log on through mesh config `accessLogFile`, which this emulator does not read; a Telemetry
// resource is the only switch here.)
import type { JsonValue, Telemetry } from '../resources/model.js'
import type { WaypointTelemetry } from '../../mesh/waypoint-config.js'

export const DEFAULT_WAYPOINT_TELEMETRY: WaypointTelemetry = { accessLog: false, tracing: null }
/** Istio's default `randomSamplingPercentage` when a tracing entry sets none (meshConfig default 1%). */
export const DEFAULT_SAMPLING_PERCENT = 1

type Obj = { readonly [k: string]: JsonValue }
const isObj = (v: JsonValue | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const list = (v: JsonValue | undefined): readonly JsonValue[] => (Array.isArray(v) ? (v as readonly JsonValue[]) : [])

function targetsWaypoint(t: Telemetry, w: { namespace: string; name: string }): 'none' | 'waypoint' | 'other' {
  const refs = list(t.spec.targetRefs).concat(isObj(t.spec.targetRef) ? [t.spec.targetRef] : [])
  const selector = isObj(t.spec.selector) && isObj(t.spec.selector.matchLabels) ? t.spec.selector.matchLabels : undefined
  if (refs.length === 0 && selector === undefined) return 'none'
  if (t.metadata.namespace !== w.namespace) return 'other'
  const byRef = refs.some((r) => isObj(r) && r.kind === 'Gateway' && r.name === w.name)
  const bySelector = selector !== undefined && selector['gateway.networking.k8s.io/gateway-name'] === w.name
  return byRef || bySelector ? 'waypoint' : 'other'
}

/** An `accessLogging` list: on when an entry uses the envoy provider (or none named) and is not disabled. */
function accessLogOf(spec: Obj): boolean | undefined {
  if (!Array.isArray(spec.accessLogging)) return undefined
  let on: boolean | undefined
  for (const e of list(spec.accessLogging)) {
    if (!isObj(e)) continue
    const providers = list(e.providers)
      .filter(isObj)
      .map((p) => p.name)
    if (providers.length > 0 && !providers.includes('envoy')) continue
    on = e.disabled !== true
  }
  return on ?? false
}

function tracingOf(spec: Obj): WaypointTelemetry['tracing'] | undefined {
  if (!Array.isArray(spec.tracing)) return undefined
  let out: WaypointTelemetry['tracing'] = null
  for (const e of list(spec.tracing)) {
    if (!isObj(e)) continue
    if (e.disableSpanReporting === true) {
      out = null
      continue
    }
    const p = e.randomSamplingPercentage
    const pct = typeof p === 'number' && Number.isFinite(p) ? Math.min(100, Math.max(0, p)) : DEFAULT_SAMPLING_PERCENT
    out = { samplingPercent: pct }
  }
  return out
}

export function waypointTelemetry(
  telemetries: readonly Telemetry[],
  w: { namespace: string; name: string },
  rootNamespace: string,
): WaypointTelemetry {
  const layers: Telemetry[] = []
  const pick = (pred: (t: Telemetry) => boolean): void => {
    const t = telemetries
      .filter(pred)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))[0]
    if (t !== undefined) layers.push(t)
  }
  pick((t) => t.metadata.namespace === rootNamespace && targetsWaypoint(t, w) === 'none')
  if (w.namespace !== rootNamespace) pick((t) => t.metadata.namespace === w.namespace && targetsWaypoint(t, w) === 'none')
  pick((t) => targetsWaypoint(t, w) === 'waypoint')
  let accessLog = DEFAULT_WAYPOINT_TELEMETRY.accessLog
  let tracing = DEFAULT_WAYPOINT_TELEMETRY.tracing
  for (const t of layers) {
    const a = accessLogOf(t.spec)
    if (a !== undefined) accessLog = a
    const tr = tracingOf(t.spec)
    if (tr !== undefined) tracing = tr
  }
  return { accessLog, tracing }
}
