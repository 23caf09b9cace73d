// The direct Workload reader (src/xds/workload-bytes.ts) against the reference path (protobufjs
// decode + workloadFromWire): every Workload it accepts must come out identical, and everything it
// leaves alone must still decode (or be refused) exactly as the reference does it.
import t from 'tap'
import type { Workload } from '../../../src/mesh/types.js'
import { freezeWorkload, walksDeepFrozen } from '../../../src/mesh/values.js'
import { decodeAddress, encodeAddress, workloadFromWire } from '../../../src/xds/convert.js'
import { istio } from '../../../src/xds/gen/messages.js'
import { workloadFromBytes } from '../../../src/xds/workload-bytes.js'
import { workload } from '../../helpers/mesh-view.js'
import { WORKLOAD_FIXTURES } from './workload-fixtures.js'

/** The reference decoding of an Address holding a Workload, or the error it throws. */
function reference(bytes: Uint8Array): Workload | Error {
  try {
    return workloadFromWire(istio.workload.Address.decode(bytes).workload!)
  } catch (err) {
    return err as Error
  }
}

function direct(bytes: Uint8Array): Workload | undefined {
  // Address { workload = 1 }: one tag byte and the length varint before the Workload's bytes.
  let at = 1
  while (bytes[at]! >= 0x80) at++
  return workloadFromBytes(bytes, at + 1, bytes.length)
}

const wire = (w: istio.workload.Workload.$Properties): Uint8Array => istio.workload.Address.encode({ workload: w }).finish()
/** A Workload's own bytes, to splice (a field twice) before wrapping them in an Address. */
const body = (w: istio.workload.Workload.$Properties): Uint8Array => istio.workload.Workload.encode(w).finish()

/** Address { workload = 1 } around raw Workload bytes, as they are. */
function address(raw: Uint8Array): Uint8Array {
  const len: number[] = []
  for (let n = raw.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n)
      break
    }
    len.push((n & 0x7f) | 0x80)
  }
  return Uint8Array.from([0x0a, ...len, ...raw])
}

// What the direct reader takes: the fields istiod sets on an ordinary pod (not our pod-local extension).
const common: Array<[string, Workload]> = [
  ...WORKLOAD_FIXTURES.filter(([, w]) => w.podLocalAddress === undefined),
  ['a bare pod', workload({ name: 'i', addresses: ['10.0.0.8'], workloadType: 'POD', tunnelProtocol: 'LEGACY_ISTIO_MTLS' })],
]

t.test('a common Workload reads directly, identical to the reference path', async (t) => {
  for (const [name, w] of common) {
    const bytes = encodeAddress({ kind: 'workload', value: w })
    const fast = direct(bytes)
    t.ok(fast, `${name}: the direct reader takes it`)
    t.strictSame(fast, reference(bytes), name)
    t.strictSame(decodeAddress(bytes), { kind: 'workload', value: reference(bytes) }, `${name}: decodeAddress`)
    t.ok(Object.isFrozen(fast) && Object.isFrozen(fast!.addresses) && Object.isFrozen(fast!.authorizationPolicies), `${name}: frozen`)
    for (const ports of fast!.services.values()) t.ok(Object.isFrozen(ports))
    t.ok(walksDeepFrozen(fast), `${name}: what MeshState would share without a copy (the reader marks it so)`)
    t.equal(freezeWorkload(fast!), fast, `${name}: MeshState keeps this object`)
    t.throws(() => (fast!.services as Map<string, unknown>).set('x/y', []), `${name}: services cannot change`)
  }
})

t.test('elided defaults, an empty map value and an unknown app protocol read as protobufjs reads them', async (t) => {
  const cases: Array<[string, istio.workload.Workload.$Properties]> = [
    ['defaults elided', { uid: 'u', namespace: 'ns', addresses: [Uint8Array.of(10, 0, 0, 1)] }],
    ['explicit defaults', { uid: 'u', namespace: 'ns', trustDomain: 'cluster.local', serviceAccount: 'default', clusterId: 'Kubernetes' }],
    ['map entry without a value', { uid: 'u', namespace: 'ns', services: { 'ns/h.ns.svc.cluster.local': {} } }],
    [
      'app protocol on a workload port',
      { uid: 'u', namespace: 'ns', services: { 'ns/h': { ports: [{ servicePort: 1, appProtocol: 99 as istio.workload.AppProtocol }] } } },
    ],
    ['capacity message without a value', { uid: 'u', namespace: 'ns', capacity: {} }],
    ['unknown workload type falls back', { uid: 'u', namespace: 'ns', workloadType: 42 as istio.workload.WorkloadType }],
    ['waypoint port 0 is the HBONE port', { uid: 'u', namespace: 'ns', waypoint: { hostname: { namespace: 'ns', hostname: 'wp' } } }],
    ['non-ASCII text', { uid: 'u', namespace: 'ns', name: 'caf\u00e9', canonicalName: '\u{1f600}' }],
  ]
  for (const [name, m] of cases) {
    const bytes = wire(m)
    const fast = direct(bytes)
    t.ok(fast, `${name}: the direct reader takes it`)
    t.strictSame(fast, reference(bytes), name)
    t.ok(walksDeepFrozen(fast), `${name}: deep-frozen, no undefined property`)
  }
})

t.test('anything else is left to the reference path, which decides and words it', async (t) => {
  const ok = { uid: 'u', namespace: 'ns' }
  const cases: Array<[string, Uint8Array]> = [
    ['locality', body({ ...ok, locality: { region: 'r' } })],
    ['network gateway', body({ ...ok, networkGateway: { hostname: { namespace: 'ns', hostname: 'gw' } } })],
    ['application tunnel', body({ ...ok, applicationTunnel: { protocol: 1, port: 15088 } })],
    ['network mode', body({ ...ok, networkMode: 1 })],
    ['native tunnel', body({ ...ok, nativeTunnel: true })],
    ['a singular field twice (last wins)', Buffer.concat([body({ ...ok, name: 'first' }), body({ name: 'second' })])],
    [
      'a map key twice (last wins)',
      Buffer.concat([body({ ...ok, services: { 'a/b': { ports: [{ servicePort: 1 }] } } }), body({ services: { 'a/b': {} } })]),
    ],
    ['no uid: refused', body({ namespace: 'ns' })],
    ['bad namespace: refused', body({ uid: 'u', namespace: 'a/b' })],
    ['an address twice: refused', body({ ...ok, addresses: [Uint8Array.of(10, 0, 0, 1), Uint8Array.of(10, 0, 0, 1)] })],
    ['a 5-byte address: refused', body({ ...ok, addresses: [Uint8Array.of(10, 0, 0, 1, 2)] })],
    ['unknown tunnel protocol: refused', body({ ...ok, tunnelProtocol: 9 as istio.workload.TunnelProtocol })],
    ['unknown status: refused', body({ ...ok, status: 7 as istio.workload.WorkloadStatus })],
    ['port past 65535: refused', body({ ...ok, services: { 'a/b': { ports: [{ servicePort: 70000 }] } } })],
    ['service key without a slash: refused', body({ ...ok, services: { b: {} } })],
    ['waypoint without a hostname: refused', body({ ...ok, waypoint: { hostname: { namespace: 'ns' } } })],
    ['waypoint with neither form: refused', body({ ...ok, waypoint: { hboneMtlsPort: 15008 } })],
  ]
  const extension = encodeAddress({
    kind: 'workload',
    value: workload({ name: 'h', addresses: ['127.244.1.2'], podLocalAddress: '127.245.1.2' }),
  })
  t.equal(direct(extension), undefined, 'pod-local extension: the direct reader leaves it')
  t.strictSame(decodeAddress(extension).value, reference(extension), 'pod-local extension: decoded the same way')
  for (const [name, raw] of cases) {
    t.equal(workloadFromBytes(raw, 0, raw.length), undefined, `${name}: the direct reader leaves it`)
    const bytes = address(raw)
    const want = reference(bytes)
    let got: Workload | Error
    try {
      got = decodeAddress(bytes).value as Workload
    } catch (err) {
      got = err as Error
    }
    if (want instanceof Error) t.equal(got instanceof Error ? got.message : got, want.message, `${name}: refused the same way`)
    else t.strictSame(got, want, `${name}: decoded the same way`)
  }
})

t.test('truncated bytes never throw out of the direct reader', async (t) => {
  const bytes = encodeAddress({ kind: 'workload', value: common[3]![1] })
  let start = 1
  while (bytes[start]! >= 0x80) start++
  start++
  for (let end = start; end < bytes.length; end++) {
    t.doesNotThrow(() => workloadFromBytes(bytes, start, end))
  }
})
