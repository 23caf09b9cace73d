// The direct Authorization reader (src/xds/authorization-bytes.ts) against the reference path
// (protobufjs decode + authorizationFromWire): every Authorization it accepts must come out
// identical, and everything it leaves alone must still decode (or be refused) exactly as the
// reference does it. Last, a whole mesh decoded by the direct readers and by the reference path
// leaves MeshState holding the same values.
import t from 'tap'
import { freezePolicy, walksDeepFrozen } from '../../../src/mesh/values.js'
import protobuf from 'protobufjs/minimal.js'
import { match } from '../../../src/authz/policy.js'
import type { Authorization } from '../../../src/authz/policy.js'
import { generateMesh } from '../../../src/bench/xds-mesh.js'
import { MeshState } from '../../../src/mesh/state.js'
import type { MeshChange } from '../../../src/mesh/change.js'
import { authorizationFromBytes } from '../../../src/xds/authorization-bytes.js'
import {
  authorizationFromWire,
  decodeAddress,
  decodeAuthorization,
  encodeAddress,
  encodeAuthorization,
  serviceFromWire,
  workloadFromWire,
} from '../../../src/xds/convert.js'
import { istio } from '../../../src/xds/gen/messages.js'
import { POLICY_FIXTURES, policy } from './authorization-fixtures.js'

const S = istio.security.Authorization
const { Writer } = protobuf

/** The reference decoding, or the error it throws. */
function reference(bytes: Uint8Array): Authorization | Error {
  try {
    return authorizationFromWire(S.decode(bytes))
  } catch (err) {
    return err as Error
  }
}

/** A varint field. */
const varintField = (n: number, v: number): Uint8Array =>
  Writer.create()
    .uint32((n << 3) | 0)
    .uint32(v)
    .finish()
/** A length-delimited field around raw bytes. */
const field = (n: number, raw: Uint8Array): Uint8Array =>
  Writer.create()
    .uint32((n << 3) | 2)
    .bytes(raw)
    .finish()
/** An Authorization `p`/`ns` with one rule of one clause holding one Match of these raw bytes. */
const withMatch = (raw: Uint8Array): Uint8Array =>
  Buffer.concat([S.encode({ name: 'p', namespace: 'ns' }).finish(), field(5, field(1, field(2, raw)))])

const benchMesh = generateMesh({ workloads: 40, services: 8, policies: 12, nodes: 3 })

const accepted: Array<[string, Authorization]> = [
  ...POLICY_FIXTURES,
  ...benchMesh.policies.map((p): [string, Authorization] => [`bench:xds ${p.scope} ${p.name}`, p]),
  [
    'non-ASCII text',
    policy({ name: 'caf\u00e9', rules: [{ clauses: [{ matches: [match({ principals: [{ exact: '\u{1f600}'.repeat(8) }] })] }] }] }),
  ],
  [
    'an empty exact and a long prefix',
    policy({ rules: [{ clauses: [{ matches: [match({ namespaces: [{ exact: '' }, { prefix: 'x'.repeat(300) }] })] }] }] }),
  ],
  ['a match with every list empty', policy({ rules: [{ clauses: [{ matches: [match({})] }] }] })],
]

t.test('a common Authorization reads directly, identical to the reference path', async (t) => {
  for (const [name, p] of accepted) {
    const bytes = encodeAuthorization(p)
    for (const [form, b] of [
      ['Buffer', bytes],
      ['Uint8Array', Uint8Array.from(bytes)],
    ] as const) {
      const fast = authorizationFromBytes(b)
      t.ok(fast, `${name} (${form}): the direct reader takes it`)
      t.strictSame(fast, reference(b), `${name} (${form})`)
      t.strictSame(fast, p, `${name} (${form}): the policy encoded`)
    }
    t.strictSame(decodeAuthorization(bytes), reference(bytes), `${name}: decodeAuthorization`)
    const fast = authorizationFromBytes(bytes)!
    const frozen = (v: unknown): boolean =>
      v === null || typeof v !== 'object' || (Object.isFrozen(v) && Object.values(v as object).every(frozen))
    t.ok(frozen(fast), `${name}: frozen all the way down`)
    t.ok(walksDeepFrozen(fast), `${name}: what MeshState would share without a copy (the reader marks it so)`)
    t.equal(freezePolicy(fast), fast, `${name}: MeshState keeps this object`)
  }
})

t.test('ports one varint per entry, a mapped CIDR and dry run 1 read as protobufjs reads them', async (t) => {
  const unpackedPorts = Writer.create()
    .uint32((9 << 3) | 0)
    .uint32(80)
    .uint32((10 << 3) | 0)
    .uint32(22)
    .uint32((9 << 3) | 0)
    .uint32(443)
    .finish()
  const mapped = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1)
  const cases: Array<[string, Uint8Array]> = [
    ['unpacked ports', withMatch(unpackedPorts)],
    [
      'mapped IPv6 CIDR',
      S.encode({
        name: 'p',
        namespace: 'ns',
        rules: [{ clauses: [{ matches: [{ sourceIps: [{ address: mapped, length: 120 }] }] }] }],
      }).finish(),
    ],
    [
      'CIDR without a length',
      S.encode({
        name: 'p',
        namespace: 'ns',
        rules: [{ clauses: [{ matches: [{ destinationIps: [{ address: Uint8Array.of(10, 0, 0, 0) }] }] }] }],
      }).finish(),
    ],
    [
      'service account with elided parts',
      S.encode({ name: 'p', namespace: 'ns', rules: [{ clauses: [{ matches: [{ serviceAccounts: [{}] }] }] }] }).finish(),
    ],
    ['dry run, scope and action given', S.encode({ name: 'p', namespace: 'ns', dryRun: true, scope: 2, action: 1 }).finish()],
  ]
  for (const [name, bytes] of cases) {
    const fast = authorizationFromBytes(bytes)
    t.ok(fast, `${name}: the direct reader takes it`)
    t.strictSame(fast, reference(bytes), name)
  }
})

t.test('anything else is left to the reference path, which decides and words it', async (t) => {
  const ok = { name: 'p', namespace: 'ns' }
  const inMatch = (m: istio.security.Match.$Properties): Uint8Array =>
    S.encode({ ...ok, rules: [{ clauses: [{ matches: [m] }] }] }).finish()
  const cases: Array<[string, Uint8Array]> = [
    ['an unknown field', Buffer.concat([S.encode(ok).finish(), varintField(7, 1)])],
    [
      'a singular field twice (last wins)',
      Buffer.concat([S.encode({ ...ok, name: 'first' }).finish(), S.encode({ name: 'second' }).finish()]),
    ],
    ['dry run 2 (a bool: true)', Buffer.concat([S.encode(ok).finish(), varintField(6, 2)])],
    ['an unknown field in a Match', withMatch(varintField(13, 1))],
    ['a StringMatch with two forms', inMatch({ principals: [{ exact: 'a', prefix: 'b' }] })],
    ['presence carrying bytes', withMatch(field(1, field(4, varintField(1, 1))))],
    [
      'a CIDR address twice',
      withMatch(field(5, Buffer.concat([field(1, Uint8Array.of(1, 2, 3, 4)), field(1, Uint8Array.of(5, 6, 7, 8))]))),
    ],
    ['invalid UTF-8 in a principal: refused', withMatch(field(3, field(1, Uint8Array.of(0x61, 0xff, 0x62))))],
    ['no name: refused', S.encode({ namespace: 'ns' }).finish()],
    ['no namespace: refused', S.encode({ name: 'p' }).finish()],
    ['unknown scope: refused', S.encode({ ...ok, scope: 7 as istio.security.Scope }).finish()],
    ['unknown action: refused', S.encode({ ...ok, action: 5 as istio.security.Action }).finish()],
    ['a StringMatch with no form: refused', inMatch({ principals: [{}] })],
    ['port 65536: refused', inMatch({ destinationPorts: [65536] })],
    ['IPv4 /33: refused', inMatch({ sourceIps: [{ address: Uint8Array.of(1, 2, 3, 4), length: 33 }] })],
    ['a 5-byte CIDR address: refused', inMatch({ notSourceIps: [{ address: Uint8Array.of(1, 2, 3, 4, 5), length: 8 }] })],
  ]
  for (const [name, bytes] of cases) {
    t.equal(authorizationFromBytes(bytes), undefined, `${name}: the direct reader leaves it`)
    const want = reference(bytes)
    let got: Authorization | Error
    try {
      got = decodeAuthorization(bytes)
    } catch (err) {
      got = err as Error
    }
    // decodeAuthorization words a protobufjs failure as "… does not decode: <protobufjs's message>".
    if (want instanceof Error) t.ok(got instanceof Error && got.message.endsWith(want.message), `${name}: refused the same way`)
    else t.strictSame(got, want, `${name}: decoded the same way`)
  }
})

t.test('truncated bytes never throw out of the direct reader', async (t) => {
  const bytes = encodeAuthorization(POLICY_FIXTURES[2]![1])
  for (let end = 0; end < bytes.length; end++) t.doesNotThrow(() => authorizationFromBytes(bytes, 0, end), `cut at ${end}`)
})

t.test('MeshState holds the same values whether the direct readers or the reference path decoded the mesh', async (t) => {
  const mesh = generateMesh({ workloads: 200, services: 20, policies: 30, nodes: 4 })
  const addresses = [
    ...mesh.services.map((value) => encodeAddress({ kind: 'service', value })),
    ...mesh.workloads.map((value) => encodeAddress({ kind: 'workload', value })),
  ]
  const policies = mesh.policies.map(encodeAuthorization)
  const referenceAddress = (bytes: Uint8Array): MeshChange => {
    const m = istio.workload.Address.decode(bytes)
    return m.workload
      ? { op: 'upsert', kind: 'workload', value: workloadFromWire(m.workload) }
      : { op: 'upsert', kind: 'service', value: serviceFromWire(m.service!) }
  }
  const fastAddress = (bytes: Uint8Array): MeshChange => {
    const a = decodeAddress(bytes)
    return a.kind === 'workload' ? { op: 'upsert', kind: 'workload', value: a.value } : { op: 'upsert', kind: 'service', value: a.value }
  }
  const viaReference = new MeshState()
  viaReference.apply(addresses.map(referenceAddress))
  viaReference.apply(policies.map((b): MeshChange => ({ op: 'upsert', kind: 'policy', value: authorizationFromWire(S.decode(b)) })))
  const viaFast = new MeshState()
  viaFast.apply(addresses.map(fastAddress))
  viaFast.apply(policies.map((b): MeshChange => ({ op: 'upsert', kind: 'policy', value: decodeAuthorization(b) })))
  t.strictSame(viaFast.snapshot(), viaReference.snapshot(), 'the same workloads, services and policies')
  t.equal(viaFast.workloads().length, 200)
  t.equal(viaFast.policies().length, 30)
  for (const w of viaReference.workloads()) {
    t.strictSame(viaFast.policiesFor(viaFast.workloadByUid(w.uid)!), viaReference.policiesFor(w), `${w.uid}: the same applicable policies`)
    t.strictSame(viaFast.workloadByAddress(w.addresses[0]!), w, `${w.uid}: found by address`)
  }
  for (const s of viaReference.services())
    t.strictSame(viaFast.endpointsOf(`${s.namespace}/${s.hostname}`), viaReference.endpointsOf(`${s.namespace}/${s.hostname}`))
})
