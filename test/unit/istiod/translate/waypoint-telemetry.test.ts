// Telemetry API → WaypointConfig.telemetry (src/istiod/translate/telemetry.ts): mesh-wide (root
// namespace), namespace-wide, and waypoint-targeted layers; defaults without any Telemetry.
import t from 'tap'
import { deployment, fixture, ns, run, service, waypoint } from './helpers.js'

const MESH = [
  ns('default', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'wp' }),
  waypoint('wp'),
  deployment('httpbin'),
  service('httpbin', { port: 8000, targetPort: 8080 }),
].join('')

const tel = (name: string, namespace: string, spec: object): string =>
  `---\napiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${JSON.stringify(spec)}\n`

const cases: { name: string; yaml: string[]; want: unknown }[] = [
  { name: 'no Telemetry: no access log, no tracing', yaml: [], want: { accessLog: false, tracing: null } },
  {
    name: "the seed's mesh-wide access log (istio-system)",
    yaml: fixture('seed/09-telemetry-access-log.yaml'),
    want: { accessLog: true, tracing: null },
  },
  {
    name: 'namespace-wide tracing with a percentage',
    yaml: [tel('t', 'default', { tracing: [{ providers: [{ name: 'zipkin' }], randomSamplingPercentage: 25 }] })],
    want: { accessLog: false, tracing: { samplingPercent: 25 } },
  },
  {
    name: "tracing without a percentage: Istio's 1%",
    yaml: [tel('t', 'default', { tracing: [{ providers: [{ name: 'zipkin' }] }] })],
    want: { accessLog: false, tracing: { samplingPercent: 1 } },
  },
  {
    name: 'namespace disables the mesh-wide access log',
    yaml: [
      tel('mesh', 'istio-system', { accessLogging: [{ providers: [{ name: 'envoy' }] }] }),
      tel('off', 'default', { accessLogging: [{ providers: [{ name: 'envoy' }], disabled: true }] }),
    ],
    want: { accessLog: false, tracing: null },
  },
  {
    name: 'targetRefs to the waypoint Gateway overrides the namespace',
    yaml: [
      tel('ns', 'default', { accessLogging: [{ disabled: true }], tracing: [{ randomSamplingPercentage: 5 }] }),
      tel('wp', 'default', {
        targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'wp' }],
        accessLogging: [{ providers: [{ name: 'envoy' }] }],
        tracing: [{ randomSamplingPercentage: 100 }],
      }),
    ],
    want: { accessLog: true, tracing: { samplingPercent: 100 } },
  },
  {
    name: "selector on gateway-name targets the waypoint; another Gateway's target does not",
    yaml: [
      tel('sel', 'default', {
        selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'wp' } },
        tracing: [{ randomSamplingPercentage: 50 }],
      }),
      tel('other', 'default', { targetRefs: [{ kind: 'Gateway', name: 'other' }], accessLogging: [{ providers: [{ name: 'envoy' }] }] }),
    ],
    want: { accessLog: false, tracing: { samplingPercent: 50 } },
  },
  {
    name: 'only a non-envoy provider: no access log',
    yaml: [tel('t', 'istio-system', { accessLogging: [{ providers: [{ name: 'otel' }] }] })],
    want: { accessLog: false, tracing: null },
  },
  {
    name: "another namespace's Telemetry does not apply",
    yaml: [tel('t', 'other', { accessLogging: [{ providers: [{ name: 'envoy' }] }] })],
    want: { accessLog: false, tracing: null },
  },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const out = run([MESH, ...c.yaml])
    t.equal(out.waypoints.length, 1)
    t.same(out.waypoints[0]!.telemetry, c.want)
  })
}
