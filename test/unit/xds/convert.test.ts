import t from 'tap'
import type { Service, Workload } from '../../../src/mesh/types.js'
import {
  addressResourceName,
  ADDRESS_DECODER,
  AUTHORIZATION_DECODER,
  decodeAddress,
  decodeAddressIn,
  decodeAuthorization,
  decodeAuthorizationIn,
  decodeWaypointConfig,
  encodeAddress,
  encodeAuthorization,
  encodeWaypointConfig,
  TYPE_URL,
} from '../../../src/xds/convert.js'
import { POD_LOCAL_EXTENSION } from '../../../src/xds/convert-address.js'
import { XdsErrorCode } from '../../../src/xds/errors.js'
import { ambient, istio } from '../../../src/xds/gen/messages.js'
import { service, waypointByHostname, workload } from '../../helpers/mesh-view.js'
import { POLICY_FIXTURES } from './authorization-fixtures.js'
import { SVC, WORKLOAD_FIXTURES } from './workload-fixtures.js'

const workloads = WORKLOAD_FIXTURES

const services: Array<[string, Service]> = [
  ['no VIP, no ports', service({ name: 'headless', addresses: [] })],
  [
    'VIPs, ports, SANs, waypoint',
    {
      ...service({
        name: 'web',
        addresses: ['127.96.0.1', 'fd00::96:1'],
        ports: [
          [80, 8080],
          [9090, 0],
        ],
      }),
      subjectAltNames: ['spiffe://cluster.local/ns/default/sa/web'],
      waypoint: waypointByHostname('wp'),
    },
  ],
  [
    'app protocols',
    {
      ...service({ name: 'grpc', addresses: ['127.96.0.2'] }),
      ports: [
        { servicePort: 80, targetPort: 8080, appProtocol: 'http' },
        { servicePort: 81, targetPort: 0, appProtocol: 'http2' },
        { servicePort: 82, targetPort: 0, appProtocol: 'grpc' },
        { servicePort: 83, targetPort: 0, appProtocol: '' },
      ],
    },
  ],
  ['network extension', service({ name: 'remote', addresses: ['10.1.0.1'], network: 'west' })],
]

/** A value as decoders build it and MeshState stores it: an optional left `undefined` is absent. */
const withoutUndefined = <T extends object>(v: T): T => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as T

t.test('Workload round-trips through istio.workload.Address', async (t) => {
  for (const [name, w] of workloads) {
    const back = decodeAddress(encodeAddress({ kind: 'workload', value: w }))
    t.equal(back.kind, 'workload', name)
    t.same(back.value, withoutUndefined(w), name)
    if (w.waypoint === undefined) t.notOk('waypoint' in back.value, `${name}: no waypoint key`)
    t.equal(addressResourceName(back), w.uid, `${name}: resource name is the uid`)
  }
})

t.test('Service round-trips through istio.workload.Address', async (t) => {
  for (const [name, s] of services) {
    const back = decodeAddress(encodeAddress({ kind: 'service', value: s }))
    t.equal(back.kind, 'service', name)
    t.same(back.value, s, name)
    t.equal(addressResourceName(back), `${s.namespace}/${s.hostname}`, `${name}: resource name`)
  }
})

t.test('Authorization round-trips', async (t) => {
  for (const [name, p] of POLICY_FIXTURES) t.same(decodeAuthorization(encodeAuthorization(p)), p, name)
})

t.test('WaypointConfig carries a JSON document', async (t) => {
  const c = { name: 'wp', namespace: 'shop', document: { listeners: [{ port: 15008 }], retries: 2 } }
  t.same(decodeWaypointConfig(encodeWaypointConfig(c)), c)
  t.equal(istio.workload.Address.getTypeUrl(), TYPE_URL.address)
  t.equal(istio.security.Authorization.getTypeUrl(), TYPE_URL.authorization)
})

t.test('decoded values are frozen', async (t) => {
  const w = decodeAddress(encodeAddress({ kind: 'workload', value: workloads[3]![1] })).value as Workload
  t.ok(Object.isFrozen(w) && Object.isFrozen(w.addresses) && Object.isFrozen(w.services.get(SVC)))
  const p = decodeAuthorization(encodeAuthorization(POLICY_FIXTURES[2]![1]))
  t.ok(Object.isFrozen(p.rules[0]!.clauses[0]!.matches[0]!.namespaces))
})

t.test('Istio elides defaults; decoding fills them as ztunnel does', async (t) => {
  const bytes = istio.workload.Address.encode({ workload: { uid: 'u', namespace: 'ns', addresses: [Uint8Array.of(10, 0, 0, 1)] } }).finish()
  const w = decodeAddress(bytes).value as Workload
  t.match(w, {
    trustDomain: 'cluster.local',
    serviceAccount: 'default',
    capacity: 1,
    tunnelProtocol: 'NONE',
    workloadType: 'DEPLOYMENT',
    status: 'HEALTHY',
  })
  t.equal(w.podLocalAddress, undefined)
  const gw = istio.workload.Address.encode({
    service: { namespace: 'ns', hostname: 'h', waypoint: { hostname: { namespace: 'ns', hostname: 'wp' } } },
  }).finish()
  t.same((decodeAddress(gw).value as Service).waypoint, { kind: 'hostname', namespace: 'ns', hostname: 'wp', hboneMtlsPort: 15008 })
})

t.test('IPv4-mapped IPv6 bytes become IPv4 text; a mapped CIDR becomes an IPv4 CIDR', async (t) => {
  const mapped = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1)
  const w = decodeAddress(istio.workload.Address.encode({ workload: { uid: 'u', namespace: 'ns', addresses: [mapped] } }).finish())
    .value as Workload
  t.same(w.addresses, ['10.0.0.1'])
  const p = decodeAuthorization(
    istio.security.Authorization.encode({
      name: 'p',
      namespace: 'ns',
      rules: [{ clauses: [{ matches: [{ sourceIps: [{ address: mapped, length: 120 }] }] }] }],
    }).finish(),
  )
  t.same(p.rules[0]!.clauses[0]!.matches[0]!.sourceIps, [{ address: '10.0.0.1', length: 24 }])
})

t.test('invalid resources are refused with XDS_RESOURCE_INVALID', async (t) => {
  const A = istio.workload.Address
  const S = istio.security.Authorization
  const cases: Array<[string, Uint8Array, (b: Uint8Array) => unknown]> = [
    ['garbage bytes', Uint8Array.of(0x0a, 0xff, 0x01), decodeAddress],
    ['empty Address', A.encode({}).finish(), decodeAddress],
    ['workload without uid', A.encode({ workload: { name: 'x' } }).finish(), decodeAddress],
    ['5-byte address', A.encode({ workload: { uid: 'u', addresses: [Uint8Array.of(1, 2, 3, 4, 5)] } }).finish(), decodeAddress],
    [
      'address twice',
      A.encode({ workload: { uid: 'u', addresses: [Uint8Array.of(1, 2, 3, 4), Uint8Array.of(1, 2, 3, 4)] } }).finish(),
      decodeAddress,
    ],
    [
      'unknown tunnel protocol',
      A.encode({ workload: { uid: 'u', tunnelProtocol: 7 as istio.workload.TunnelProtocol } }).finish(),
      decodeAddress,
    ],
    ['identity not SPIFFE-able', A.encode({ workload: { uid: 'u', namespace: 'a/b' } }).finish(), decodeAddress],
    ['services key without slash', A.encode({ workload: { uid: 'u', services: { nope: { ports: [] } } } }).finish(), decodeAddress],
    [
      'port out of range',
      A.encode({ workload: { uid: 'u', services: { 'a/b': { ports: [{ servicePort: 70000 }] } } } }).finish(),
      decodeAddress,
    ],
    ['service without hostname', A.encode({ service: { namespace: 'ns' } }).finish(), decodeAddress],
    [
      'service VIPs on two networks',
      A.encode({
        service: {
          namespace: 'ns',
          hostname: 'h',
          addresses: [
            { network: 'a', address: Uint8Array.of(1, 1, 1, 1) },
            { network: 'b', address: Uint8Array.of(1, 1, 1, 2) },
          ],
        },
      }).finish(),
      decodeAddress,
    ],
    ['unknown network mode', A.encode({ workload: { uid: 'u', networkMode: 4 as istio.workload.NetworkMode } }).finish(), decodeAddress],
    [
      'unknown application tunnel protocol',
      A.encode({ workload: { uid: 'u', applicationTunnel: { protocol: 3 as istio.workload.ApplicationTunnel.Protocol } } }).finish(),
      decodeAddress,
    ],
    ['unknown workload status', A.encode({ workload: { uid: 'u', status: 5 as istio.workload.WorkloadStatus } }).finish(), decodeAddress],
    [
      'unknown ip families',
      A.encode({ service: { namespace: 'ns', hostname: 'h', ipFamilies: 9 as istio.workload.IPFamilies } }).finish(),
      decodeAddress,
    ],
    [
      'unknown load balancing mode',
      A.encode({ service: { namespace: 'ns', hostname: 'h', loadBalancing: { mode: 8 as istio.workload.LoadBalancing.Mode } } }).finish(),
      decodeAddress,
    ],
    [
      'UNSPECIFIED_SCOPE routing preference',
      A.encode({ service: { namespace: 'ns', hostname: 'h', loadBalancing: { routingPreference: [0] } } }).finish(),
      decodeAddress,
    ],
    [
      'pod-local extension of the wrong type',
      A.encode({
        workload: {
          uid: 'u',
          extensions: [{ name: POD_LOCAL_EXTENSION, config: { type_url: 'type.googleapis.com/x.Y', value: Uint8Array.of() } }],
        },
      }).finish(),
      decodeAddress,
    ],
    [
      'gateway with no destination',
      A.encode({ service: { namespace: 'ns', hostname: 'h', waypoint: { hboneMtlsPort: 1 } } }).finish(),
      decodeAddress,
    ],
    ['policy without name', S.encode({ namespace: 'ns' }).finish(), decodeAuthorization],
    ['unknown action', S.encode({ name: 'p', namespace: 'ns', action: 5 as istio.security.Action }).finish(), decodeAuthorization],
    [
      'StringMatch with no form',
      S.encode({ name: 'p', namespace: 'ns', rules: [{ clauses: [{ matches: [{ principals: [{}] }] }] }] }).finish(),
      decodeAuthorization,
    ],
    [
      'IPv4 /33',
      S.encode({
        name: 'p',
        namespace: 'ns',
        rules: [{ clauses: [{ matches: [{ sourceIps: [{ address: Uint8Array.of(1, 2, 3, 4), length: 33 }] }] }] }],
      }).finish(),
      decodeAuthorization,
    ],
    [
      'port 65536 in policy',
      S.encode({ name: 'p', namespace: 'ns', rules: [{ clauses: [{ matches: [{ destinationPorts: [65536] }] }] }] }).finish(),
      decodeAuthorization,
    ],
    [
      'waypoint config not JSON',
      ambient.waypoint.v1.WaypointConfig.encode({ name: 'w', namespace: 'n', json: '{' }).finish(),
      decodeWaypointConfig,
    ],
  ]
  for (const [name, bytes, decode] of cases) {
    t.throws(() => decode(bytes), { code: XdsErrorCode.resourceInvalid }, name)
  }
})

t.test("values Istio's ztunnel reads leniently decode: unknown workload_type and app_protocol, foreign extensions", async (t) => {
  const A = istio.workload.Address
  const w = decodeAddress(
    A.encode({
      workload: {
        uid: 'u',
        namespace: 'ns',
        workloadType: 9 as istio.workload.WorkloadType,
        extensions: [{ name: 'vendor.example/x', config: { type_url: 'type.googleapis.com/x.Y', value: Uint8Array.of(1) } }],
      },
    }).finish(),
  ).value as Workload
  t.equal(w.workloadType, 'DEPLOYMENT')
  t.equal(w.podLocalAddress, undefined)
  const s = decodeAddress(
    A.encode({
      service: { namespace: 'ns', hostname: 'h', ports: [{ servicePort: 1, appProtocol: 9 as istio.workload.AppProtocol }] },
    }).finish(),
  ).value as Service
  t.equal(s.ports[0]!.appProtocol, '')
  // Every value Istio defines is accepted: LEGACY_ISTIO_MTLS, HOST_NETWORK, PROXY, PASSTHROUGH.
  const legacy = decodeAddress(
    A.encode({
      workload: {
        uid: 'u',
        namespace: 'ns',
        tunnelProtocol: 2,
        networkMode: 1,
        nativeTunnel: true,
        applicationTunnel: { protocol: 1, port: 15088 },
      },
    }).finish(),
  ).value as Workload
  t.equal(legacy.tunnelProtocol, 'LEGACY_ISTIO_MTLS')
  t.doesNotThrow(() =>
    decodeAddress(
      A.encode({
        service: {
          namespace: 'ns',
          hostname: 'h',
          ipFamilies: 3,
          loadBalancing: { routingPreference: [4, 6], mode: 3, healthPolicy: 1, dnsConnectStrategy: 1 },
        },
      }).finish(),
    ),
  )
})

t.test('istiod elides the default trust domain and capacity 1; the pod-local address travels as an Extension', async (t) => {
  const m = istio.workload.Address.decode(
    encodeAddress({ kind: 'workload', value: workload({ name: 'h', addresses: ['127.244.1.2'], podLocalAddress: '127.245.1.2' }) }),
  )
  t.equal(m.workload!.trustDomain, '')
  t.equal(m.workload!.capacity, null)
  t.same(
    m.workload!.extensions!.map((e) => e.name),
    [POD_LOCAL_EXTENSION],
  )
})

t.test('encoding a value that is not IP text fails with XDS_ENCODE_INVALID', async (t) => {
  t.throws(() => encodeAddress({ kind: 'workload', value: workload({ name: 'x', addresses: ['not-an-ip'] }) }), {
    code: XdsErrorCode.encodeInvalid,
  })
})

t.test('the in-place decoders read a range of a larger buffer as the others read its copy', async (t) => {
  const pad = (b: Uint8Array): [Buffer, number, number] => [
    Buffer.concat([Buffer.from([0x0a, 0xff, 0x01]), b, Buffer.from([0x12, 0x00])]),
    3,
    3 + b.length,
  ]
  const addresses: Array<[string, Uint8Array]> = [
    ...workloads.map(([name, w]): [string, Uint8Array] => [`workload ${name}`, encodeAddress({ kind: 'workload', value: w })]),
    ...services.map(([name, s]): [string, Uint8Array] => [`service ${name}`, encodeAddress({ kind: 'service', value: s })]),
    [
      'a workload the direct reader leaves (locality)',
      istio.workload.Address.encode({ workload: { uid: 'u', namespace: 'ns', locality: { region: 'r' } } }).finish(),
    ],
  ]
  for (const [name, bytes] of addresses) {
    const [buf, start, end] = pad(bytes)
    t.strictSame(decodeAddressIn(buf, start, end), decodeAddress(Uint8Array.from(bytes)), name)
  }
  for (const [name, p] of POLICY_FIXTURES) {
    const [buf, start, end] = pad(encodeAuthorization(p))
    t.strictSame(decodeAuthorizationIn(buf, start, end), decodeAuthorization(encodeAuthorization(p)), `policy ${name}`)
  }
  const bad = pad(Uint8Array.of(0x0a, 0x02, 0xa2, 0x01))
  t.throws(() => decodeAddressIn(...bad), { code: XdsErrorCode.resourceInvalid }, 'refused in the same words')
  t.equal(ADDRESS_DECODER.decodeIn, decodeAddressIn)
  t.equal(AUTHORIZATION_DECODER.decodeIn, decodeAuthorizationIn)
  t.equal(ADDRESS_DECODER.typeUrl, TYPE_URL.address)
  t.equal(AUTHORIZATION_DECODER.typeUrl, TYPE_URL.authorization)
})
