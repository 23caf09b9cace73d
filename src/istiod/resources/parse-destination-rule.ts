// networking.istio.io DestinationRule: host, traffic policy (load balancer, connection pool, outlier
// detection, TLS mode, per-port settings) and subsets. What the waypoint's circuit breaker and load
// balancer read is typed; other traffic-policy fields Istio has (consistentHash, locality settings,
// tunnel, proxyProtocol) are accepted silently so real configs apply.
import { PORT_MAX } from '../../net/address.js'
import { type Entry, Fields, type Issues } from './fields.js'
import { ConfigMessageCode } from './messages.js'
import type {
  ClientTlsMode,
  ConnectionPoolSettings,
  LoadBalancerSimple,
  ObjectBody,
  OutlierDetection,
  Subset,
  TrafficPolicy,
} from './model.js'

const LB_SIMPLE: readonly LoadBalancerSimple[] = ['UNSPECIFIED', 'ROUND_ROBIN', 'RANDOM', 'LEAST_REQUEST', 'PASSTHROUGH']
const TLS_MODES: readonly ClientTlsMode[] = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']
const POLICY_FIELDS = [
  'loadBalancer',
  'connectionPool',
  'outlierDetection',
  'tls',
  'portLevelSettings',
  'tunnel',
  'proxyProtocol',
  'retryBudget',
]
const INT32_MAX = 2_147_483_647

export function decodeDestinationRule(top: Fields, issues: Issues): ObjectBody<'DestinationRule'> | undefined {
  const mark = issues.mark()
  const f = top.requiredChild('spec', ['host', 'trafficPolicy', 'subsets', 'exportTo', 'workloadSelector'], 'add spec: with host')
  if (f === undefined) return undefined
  const host = f.string('host', { required: true }) ?? ''
  const trafficPolicy = decodeTrafficPolicy(f.child('trafficPolicy', POLICY_FIELDS), true)
  const seen = new Set<string>()
  const subsets = f.list('subsets').flatMap((e): Subset[] => {
    const s = decodeSubset(e, issues)
    if (s === undefined) return []
    if (seen.has(s.name)) {
      issues.error(ConfigMessageCode.schema, [...e.path, 'name'], `subset "${s.name}" is defined twice`, 'give each subset its own name')
    }
    seen.add(s.name)
    return [s]
  })
  if (issues.failedSince(mark)) return undefined
  return { spec: { host, trafficPolicy, subsets, exportTo: f.strings('exportTo') } }
}

function decodeSubset({ value, path }: Entry, issues: Issues): Subset | undefined {
  const f = Fields.open(value, path, issues, ['name', 'labels', 'trafficPolicy'])
  if (f === undefined) return undefined
  const name = f.string('name', { required: true })
  const labels = f.stringMap('labels')
  const trafficPolicy = decodeTrafficPolicy(f.child('trafficPolicy', POLICY_FIELDS), true)
  return name === undefined ? undefined : { name, labels, trafficPolicy }
}

function decodeTrafficPolicy(f: Fields | undefined, withPorts: boolean): TrafficPolicy | undefined {
  if (f === undefined) return undefined
  const lb = f.child('loadBalancer', true)
  // `simple` is one choice of a oneof; a consistentHash-only balancer keeps Istio's default here.
  const simple = lb?.enumOf('simple', LB_SIMPLE, { aliases: { LEAST_CONN: 'LEAST_REQUEST' } })
  const tlsMode = f.child('tls', true)?.enumOf('mode', TLS_MODES)
  const portLevelSettings = withPorts
    ? f.list('portLevelSettings').flatMap((e) => {
        const p = Fields.open(e.value, e.path, f.issues, ['port', ...POLICY_FIELDS])
        const port = p?.child('port', ['number'])?.int('number', 1, PORT_MAX, { required: true })
        if (p !== undefined && !p.has('port')) {
          f.issues.error(ConfigMessageCode.missingField, p.at('port'), '"port" is required', 'add port: {number: 9080}')
        }
        const policy = decodeTrafficPolicy(p, false)
        return port === undefined || policy === undefined ? [] : [{ ...policy, port }]
      })
    : []
  return {
    loadBalancer: simple === undefined ? undefined : { simple },
    connectionPool: decodeConnectionPool(f.child('connectionPool', ['tcp', 'http'])),
    outlierDetection: decodeOutlierDetection(f.child('outlierDetection', true)),
    tls: tlsMode === undefined ? undefined : { mode: tlsMode },
    portLevelSettings,
  }
}

function decodeConnectionPool(f: Fields | undefined): ConnectionPoolSettings | undefined {
  if (f === undefined) return undefined
  const tcp = f.child('tcp', true)
  const http = f.child('http', true)
  return {
    tcp:
      tcp === undefined
        ? undefined
        : { maxConnections: tcp.int('maxConnections', 0, INT32_MAX), connectTimeoutMs: tcp.durationMs('connectTimeout') },
    http:
      http === undefined
        ? undefined
        : {
            http1MaxPendingRequests: http.int('http1MaxPendingRequests', 0, INT32_MAX),
            http2MaxRequests: http.int('http2MaxRequests', 0, INT32_MAX),
            maxRequestsPerConnection: http.int('maxRequestsPerConnection', 0, INT32_MAX),
            maxRetries: http.int('maxRetries', 0, INT32_MAX),
            idleTimeoutMs: http.durationMs('idleTimeout'),
          },
  }
}

function decodeOutlierDetection(f: Fields | undefined): OutlierDetection | undefined {
  if (f === undefined) return undefined
  return {
    consecutive5xxErrors: f.int('consecutive5xxErrors', 0, INT32_MAX),
    consecutiveGatewayErrors: f.int('consecutiveGatewayErrors', 0, INT32_MAX),
    intervalMs: f.durationMs('interval'),
    baseEjectionTimeMs: f.durationMs('baseEjectionTime'),
    maxEjectionPercent: f.int('maxEjectionPercent', 0, 100),
  }
}
