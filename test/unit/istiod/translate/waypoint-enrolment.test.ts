// Every waypoint enrolment rule (docs/istio-reference.md, "Waypoints"; src/istiod/translate/enrolment.ts):
// labels on Namespace, Service and pod, `none`, istio.io/waypoint-for, cross-namespace, and the
// waypoint's own pod and Service.
import t from 'tap'
import { TranslationCode } from '../../../../src/istiod/translate/index.js'
import type { GatewayAddress } from '../../../../src/mesh/types.js'
import { codes, deployment, ns, run, service, serviceNamed, waypoint, workloadNamed } from './helpers.js'

const at = (name: string, namespace = 'default'): GatewayAddress => ({
  kind: 'hostname',
  namespace,
  hostname: `${name}.${namespace}.svc.cluster.local`,
  hboneMtlsPort: 15008,
})
const use = (name: string, namespace?: string): Record<string, string> => ({
  'istio.io/use-waypoint': name,
  ...(namespace === undefined ? {} : { 'istio.io/use-waypoint-namespace': namespace }),
})

/**
 * As Istio's istiod sends it: a waypoint that exists is referenced by its Service's VIP on 15008;
 * one that does not (fail closed) keeps the hostname of its would-be Service.
 */
function byVip(out: ReturnType<typeof run>, g: GatewayAddress | undefined): GatewayAddress | undefined {
  if (g?.kind !== 'hostname') return g
  const svc = out.mesh.services.find((s) => s.namespace === g.namespace && s.hostname === g.hostname)
  const vip = svc?.addresses[0]
  return vip === undefined ? g : { kind: 'address', network: '', address: vip, hboneMtlsPort: g.hboneMtlsPort }
}

interface Row {
  name: string
  nsLabels?: Record<string, string>
  svcLabels?: Record<string, string>
  podLabels?: Record<string, string>
  /** waypoint-for of the Gateway `wp` (absent = label not written = service). */
  waypointFor?: string
  service: GatewayAddress | undefined
  workload: GatewayAddress | undefined
  messages?: string[]
}

const rows: Row[] = [
  { name: 'nothing labelled', service: undefined, workload: undefined },
  { name: 'namespace label, default waypoint-for (service)', nsLabels: use('wp'), service: at('wp'), workload: undefined },
  { name: 'namespace label, waypoint-for workload', nsLabels: use('wp'), waypointFor: 'workload', service: undefined, workload: at('wp') },
  { name: 'namespace label, waypoint-for all', nsLabels: use('wp'), waypointFor: 'all', service: at('wp'), workload: at('wp') },
  { name: 'namespace label, waypoint-for none', nsLabels: use('wp'), waypointFor: 'none', service: undefined, workload: undefined },
  { name: 'service label only', svcLabels: use('wp'), service: at('wp'), workload: undefined },
  { name: 'pod label only, waypoint-for all', podLabels: use('wp'), waypointFor: 'all', service: undefined, workload: at('wp') },
  {
    name: 'service none beats namespace',
    nsLabels: use('wp'),
    svcLabels: use('none'),
    waypointFor: 'all',
    service: undefined,
    workload: at('wp'),
  },
  {
    name: 'pod none beats namespace',
    nsLabels: use('wp'),
    podLabels: use('none'),
    waypointFor: 'all',
    service: at('wp'),
    workload: undefined,
  },
  {
    name: 'service label beats namespace label (pods inherit the missing one: fail closed)',
    nsLabels: use('other'),
    svcLabels: use('wp'),
    service: at('wp'),
    workload: at('other'),
    messages: [TranslationCode.waypointNotFound],
  },
  {
    name: 'pod label on a service-only waypoint: no waypoint, and said so',
    podLabels: use('wp'),
    service: undefined,
    workload: undefined,
    messages: [TranslationCode.waypointForMismatch],
  },
  {
    name: 'service label on a workload-only waypoint: no waypoint, and said so',
    svcLabels: use('wp'),
    waypointFor: 'workload',
    service: undefined,
    workload: undefined,
    messages: [TranslationCode.waypointForMismatch],
  },
  {
    name: 'a missing waypoint fails closed: points at its would-be Service, reported',
    svcLabels: use('ghost'),
    service: at('ghost'),
    workload: undefined,
    messages: [TranslationCode.waypointNotFound],
  },
  {
    name: 'cross-namespace: use-waypoint-namespace on the Service',
    svcLabels: use('shared', 'infra'),
    service: at('shared', 'infra'),
    workload: undefined,
  },
  { name: 'cross-namespace: on the namespace', nsLabels: use('shared', 'infra'), service: at('shared', 'infra'), workload: undefined },
  {
    name: 'unknown waypoint-for reads as service',
    nsLabels: use('wp'),
    waypointFor: 'everything',
    service: at('wp'),
    workload: undefined,
    messages: [TranslationCode.waypointForUnknown],
  },
]

for (const r of rows) {
  t.test(r.name, async (t) => {
    const yaml = [
      ns('default', r.nsLabels ?? {}),
      waypoint('wp', r.waypointFor === undefined ? {} : { for: r.waypointFor }),
      waypoint('shared', { ns: 'infra' }),
      deployment('web', { labels: r.podLabels ?? {} }),
      service('web', { labels: r.svcLabels ?? {} }),
    ]
    const out = run(yaml)
    t.same(serviceNamed(out, 'web').waypoint, byVip(out, r.service), 'service')
    t.same(workloadNamed(out, 'web').waypoint, byVip(out, r.workload), 'workload')
    t.same(codes(out), r.messages ?? [], 'messages')
  })
}

t.test('a namespace naming a missing waypoint is reported once, on the Namespace', async (t) => {
  const out = run([ns('default', use('ghost')), deployment('a'), deployment('b'), service('a'), service('b')])
  t.same(
    out.messages.map((m) => [m.code, m.object]),
    [[TranslationCode.waypointNotFound, 'Namespace/default']],
  )
})

t.test('the waypoint gets a pod and a Service of its own, never a waypoint itself', async (t) => {
  const out = run([ns('default', { ...use('wp'), 'istio.io/dataplane-mode': 'ambient' }), waypoint('wp', { for: 'all' })])
  const pod = workloadNamed(out, 'wp')
  t.equal(pod.serviceAccount, 'wp', 'identity spiffe://…/ns/default/sa/wp')
  t.equal(pod.tunnelProtocol, 'HBONE')
  t.equal(pod.waypoint, undefined)
  t.equal(pod.podLocalAddress, undefined, 'the waypoint binds its pod IP itself')
  t.same(Object.fromEntries(pod.services), { 'default/wp.default.svc.cluster.local': [{ servicePort: 15008, targetPort: 15008 }] })
  const svc = serviceNamed(out, 'wp')
  t.equal(svc.waypoint, undefined)
  t.same(svc.ports, [{ servicePort: 15008, targetPort: 15008, appProtocol: '' }])
  t.equal(svc.addresses.length, 1)
  t.same(
    out.waypoints.map((w) => [w.namespace, w.name, w.identity, w.waypointFor]),
    [['default', 'wp', 'spiffe://cluster.local/ns/default/sa/wp', 'all']],
  )
})

t.test('a Gateway of another class is not a waypoint', async (t) => {
  const out = run([
    ns('default', use('ingress')),
    `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: ingress}\nspec:\n` +
      `  gatewayClassName: istio\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n`,
    service('web'),
  ])
  t.same(out.waypoints, [])
  t.same(codes(out), [TranslationCode.waypointNotFound])
})
