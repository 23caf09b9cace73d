// The client's direct DeltaDiscoveryResponse reader (src/xds/delta-response-bytes.ts) against
// protobufjs's decode: what the server sends (./resource-frames.ts's encode-once bytes) reads into
// the same message objects, and anything else is left to protobufjs.
import t from 'tap'
import protobuf from 'protobufjs/minimal.js'
import { deltaResponseFromBytes, deltaResponseView, decodeDeltaResponse } from '../../../src/xds/delta-response-bytes.js'
import type { DeltaResponseView } from '../../../src/xds/delta-response-bytes.js'
import { envoy } from '../../../src/xds/gen/messages.js'
import { AGGREGATED_DISCOVERY_SERVICE } from '../../../src/xds/grpc-definitions.js'
import { encodeDeltaResponse, encodeResourceFrame } from '../../../src/xds/resource-frames.js'
import { versioned } from '../../../src/xds/resource-provider.js'

const Response = envoy.service.discovery.v3.DeltaDiscoveryResponse
const { Writer } = protobuf
const A = 'type.googleapis.com/istio.workload.Address'
const B = 'type.googleapis.com/istio.security.Authorization'

/** A message as plain data, defaults read through (the generated code has no toObject): what a reader of either result sees. */
const plain = (m: envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties): unknown => ({
  systemVersionInfo: m.systemVersionInfo,
  typeUrl: m.typeUrl,
  nonce: m.nonce,
  removedResources: [...(m.removedResources ?? [])],
  resources: (m.resources ?? []).map((r) => ({
    name: r.name,
    version: r.version,
    aliases: [...(r.aliases ?? [])],
    ttl: r.ttl ?? null,
    resource: r.resource ? { type_url: r.resource.type_url, value: [...(r.resource.value ?? [])] } : null,
  })),
})

/** A length-delimited field `n` holding `raw`. */
const field = (n: number, raw: Uint8Array): Uint8Array =>
  Writer.create()
    .uint32((n << 3) | 2)
    .bytes(raw)
    .finish()

const served = (typeUrl: string, names: string[], removed: string[] = []): Buffer =>
  encodeDeltaResponse(
    { systemVersionInfo: 'v7', typeUrl, nonce: 'n-3', removedResources: removed },
    names.map((name, i) => encodeResourceFrame(typeUrl, name, versioned(new Uint8Array(i * 70).fill(i)))),
  ).bytes

t.test('what the server sends reads directly, as protobufjs reads it', async (t) => {
  const cases: Array<[string, Uint8Array]> = [
    ['a sync of addresses', served(A, ['Kubernetes//Pod/ns-00/svc-1-0001', 'ns-00/svc-1.ns-00.svc.cluster.local', 'c'])],
    ['policies, then removals', served(B, ['ns/p'], ['ns/q', 'ns/r-with-a-long-name-0123456789'])],
    ['only removals', served(A, [], ['x'])],
    ['the envelope alone', Response.encode({}).finish()],
    ['non-ASCII names', served(A, ['caf\u00e9/\u{1f600}'.repeat(4)])],
    ['a type URL that is not the previous one', served('type.googleapis.com/other.Thing', ['a', 'b'])],
    [
      'a Resource without its Any, an Any without its value',
      Response.encode({ resources: [{ name: 'a' }, { name: 'b', resource: { type_url: A } }] }).finish(),
    ],
  ]
  for (const [name, bytes] of cases) {
    const direct = deltaResponseFromBytes(bytes)
    t.ok(direct, `${name}: the direct reader takes it`)
    t.strictSame(plain(direct!), plain(Response.decode(bytes)), name)
    t.ok(
      direct instanceof Response && direct.resources!.every((r) => r instanceof envoy.service.discovery.v3.Resource),
      `${name}: message objects`,
    )
  }
  const two = deltaResponseFromBytes(served(A, ['a', 'b']))!
  t.equal(two.resources![0]!.resource!.type_url, A)
  t.equal(two.resources![1]!.resource!.type_url, A)
  t.equal(AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources.responseDeserialize, decodeDeltaResponse, "the client's gRPC deserializer")
})

t.test('anything else is left to protobufjs', async (t) => {
  const cases: Array<[string, Uint8Array]> = [
    ['a Resource with aliases', Response.encode({ resources: [{ name: 'a', aliases: ['b'] }] }).finish()],
    ['a Resource with a TTL', Response.encode({ resources: [{ name: 'a', ttl: { seconds: 5 } }] }).finish()],
    ['a field of a newer Envoy (control_plane)', Buffer.concat([served(A, ['a']), field(7, field(1, new Uint8Array([0x61])))])],
    [
      'a singular field twice (last wins)',
      Buffer.concat([Response.encode({ nonce: 'a' }).finish(), Response.encode({ nonce: 'b' }).finish()]),
    ],
    ['a Resource name twice', field(2, Buffer.concat([field(3, Buffer.from('a')), field(3, Buffer.from('b'))]))],
    ['an Any type URL twice', field(2, field(2, Buffer.concat([field(1, Buffer.from(A)), field(1, Buffer.from(B))])))],
  ]
  for (const [name, bytes] of cases) {
    t.equal(deltaResponseFromBytes(bytes), undefined, `${name}: the direct reader leaves it`)
    t.strictSame(plain(decodeDeltaResponse(bytes)), plain(Response.decode(bytes)), `${name}: decoded by protobufjs`)
  }
  t.throws(() => decodeDeltaResponse(Uint8Array.of(0x12, 0x05, 0x1a)), 'truncated bytes: protobufjs refuses them')
})

t.test('truncated bytes never throw out of the direct reader', async (t) => {
  const bytes = served(A, ['a', 'b'], ['c'])
  for (let end = 0; end < bytes.length; end++) t.doesNotThrow(() => deltaResponseFromBytes(bytes.subarray(0, end)), `cut at ${end}`)
})

/** What the Delta client reads of a response: the envelope and, per resource, name, version, Any type URL and value bytes. */
const seen = (v: DeltaResponseView): unknown => ({
  typeUrl: v.typeUrl,
  nonce: v.nonce,
  removedResources: [...v.removedResources],
  resources: v.names.map((name, i) => ({
    name,
    version: v.versions[i],
    type: v.anyTypes[i],
    value: [...v.sources[i]!.subarray(v.starts[i], v.ends[i])],
  })),
})
const seenOf = (m: envoy.service.discovery.v3.DeltaDiscoveryResponse): unknown => ({
  typeUrl: m.typeUrl ?? '',
  nonce: m.nonce ?? '',
  removedResources: [...(m.removedResources ?? [])],
  resources: (m.resources ?? []).map((r) => ({
    name: r.name ?? '',
    version: r.version ?? '',
    type: r.resource ? (r.resource.type_url ?? '') : undefined,
    value: [...(r.resource?.value ?? [])],
  })),
})

t.test("the client's view (resources as ranges of the message) reads what protobufjs reads", async (t) => {
  const cases: Array<[string, Uint8Array, boolean]> = [
    ['a sync of addresses', served(A, ['Kubernetes//Pod/ns-00/svc-1-0001', 'ns-00/svc-1.ns-00.svc.cluster.local', 'c']), true],
    ['policies, then removals', served(B, ['ns/p'], ['ns/q', 'ns/r']), true],
    ['only removals', served(A, [], ['x']), true],
    ['the envelope alone', Response.encode({}).finish(), true],
    ['non-ASCII names', served(A, ['caf\u00e9/\u{1f600}'.repeat(4)]), true],
    [
      'a Resource without its Any, an Any without its value',
      Response.encode({ resources: [{ name: 'a' }, { name: 'b', resource: { type_url: A } }] }).finish(),
      true,
    ],
    [
      'an Any without its type URL',
      Response.encode({ resources: [{ name: 'a', resource: { value: Uint8Array.of(1, 2) } }] }).finish(),
      true,
    ],
    [
      'a Resource with aliases (protobufjs)',
      Response.encode({ resources: [{ name: 'a', aliases: ['b'], resource: { type_url: A, value: Uint8Array.of(9) } }] }).finish(),
      false,
    ],
    ['a field of a newer Envoy (protobufjs)', Buffer.concat([served(A, ['a']), field(7, field(1, new Uint8Array([0x61])))]), false],
    [
      'an Any type URL twice (protobufjs: last wins)',
      field(2, field(2, Buffer.concat([field(1, Buffer.from(A)), field(1, Buffer.from(B))]))),
      false,
    ],
  ]
  for (const [name, bytes, direct] of cases) {
    t.equal(deltaResponseFromBytes(bytes) !== undefined, direct, `${name}: ${direct ? 'read directly' : 'left to protobufjs'}`)
    t.strictSame(seen(deltaResponseView(bytes)), seenOf(Response.decode(bytes)), name)
  }
  const view = deltaResponseView(served(A, ['a', 'b', 'c'])) // a's value is empty: not on the wire
  t.equal(view.sources[1], view.sources[2], 'directly read values are ranges of one buffer (no copy, no Buffer each)')
  t.throws(() => deltaResponseView(Uint8Array.of(0x12, 0x05, 0x1a)), 'truncated bytes: protobufjs refuses them')
  const whole = served(A, ['a', 'b'], ['c'])
  for (let end = 0; end < whole.length; end++) {
    const cut = whole.subarray(0, end)
    let want: unknown
    try {
      want = seenOf(Response.decode(cut))
    } catch {
      want = 'throws'
    }
    let got: unknown
    try {
      got = seen(deltaResponseView(cut))
    } catch {
      got = 'throws'
    }
    if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`cut at ${end}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`)
  }
  t.pass('every cut of a response reads as protobufjs reads it, or is refused as protobufjs refuses it')
})
