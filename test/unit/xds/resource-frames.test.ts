// The Delta ADS server's encode-once path: resource entries encoded once per (type, name, version)
// and shared by every client, responses assembled from them byte-identical to protobufjs's own
// encoding, and the push diff taken once per snapshot. The server runs against in-memory calls
// (src/xds/grpc-memory-call.ts): what is checked is what it writes.
import t from 'tap'
import type { Test } from 'tap'
import { createDeltaAdsServer } from '../../../src/xds/delta-server.js'
import type { DeltaAdsServer } from '../../../src/xds/delta-server.js'
import { envoy } from '../../../src/xds/gen/messages.js'
import { AGGREGATED_DISCOVERY_SERVICE } from '../../../src/xds/grpc-definitions.js'
import { MemoryServerCall } from '../../../src/xds/grpc-memory-call.js'
import type { DeltaRequest } from '../../../src/xds/grpc-definitions.js'
import {
  EncodedMessage,
  encodeDeltaResponse,
  encodeResourceFrame,
  FrameJoiner,
  ResourceFrameCache,
} from '../../../src/xds/resource-frames.js'
import { versioned } from '../../../src/xds/resource-provider.js'
import type { ResourceProvider, VersionedResource } from '../../../src/xds/resource-provider.js'

const Response = envoy.service.discovery.v3.DeltaDiscoveryResponse
const TYPE = 'type.googleapis.com/test.Thing'
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

t.test('a response assembled from cached entries is the bytes protobufjs writes for the whole message', async (t) => {
  const resources = [
    { name: 'a', r: versioned(bytes('alpha')) },
    { name: 'ns/b', r: versioned(new Uint8Array(300).fill(7)) }, // a two-byte length
    { name: 'c', r: versioned(new Uint8Array(0)) },
  ]
  const envelope = { systemVersionInfo: '42', typeUrl: TYPE, nonce: 'n-1', removedResources: ['x', 'y'] }
  const ours = encodeDeltaResponse(
    envelope,
    resources.map(({ name, r }) => encodeResourceFrame(TYPE, name, r)),
  )
  const theirs = Response.encode({
    ...envelope,
    resources: resources.map(({ name, r }) => ({ name, version: r.version, resource: { type_url: TYPE, value: r.bytes } })),
  }).finish()
  t.ok(ours instanceof EncodedMessage)
  t.same(Buffer.compare(ours.bytes, Buffer.from(theirs)), 0, 'byte-identical')
  const empty = encodeDeltaResponse({ systemVersionInfo: '', typeUrl: TYPE, nonce: 'n', removedResources: [] }, [])
  t.same(Buffer.compare(empty.bytes, Buffer.from(Response.encode({ typeUrl: TYPE, nonce: 'n' }).finish())), 0, 'no resources')
  const serialize = AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources.responseSerialize
  t.equal(serialize(ours as never), ours.bytes, 'the gRPC serializer passes pre-encoded bytes through')
})

t.test('the cache encodes once per (type, name, version)', async (t) => {
  const cache = new ResourceFrameCache()
  const v1 = versioned(bytes('one'))
  const first = cache.frame(TYPE, 'a', v1)
  t.equal(cache.frame(TYPE, 'a', versioned(bytes('one'))), first, 'same version: the same Buffer')
  t.same(cache.stats(), { encodes: 1, hits: 1, entries: 1 })
  const other = cache.frame('type.googleapis.com/other', 'a', v1)
  t.not(other, first, 'another type is another entry (its Any names the type)')
  const v2 = cache.frame(TYPE, 'a', versioned(bytes('two')))
  t.not(v2, first, 'a new version re-encodes')
  t.equal(cache.frame(TYPE, 'a', versioned(bytes('two'))), v2)
  t.same(cache.stats(), { encodes: 3, hits: 2, entries: 2 })
  cache.forget(TYPE, 'a')
  t.equal(cache.stats().entries, 1)
})

t.test('a long run of entries is joined once and its body shared by the next response with the same entries', async (t) => {
  const cache = new ResourceFrameCache()
  const run = (n: number, version = '1'): Buffer[] =>
    Array.from({ length: n }, (_, i) => cache.frame(TYPE, `r${i}`, { version: `${version}-${i}`, bytes: bytes(`value ${i} ${version}`) }))
  const joiner = new FrameJoiner()
  const long = run(100)
  const body = joiner.join(TYPE, long)
  t.same(Buffer.compare(body, Buffer.concat(long)), 0, 'the entries, concatenated')
  t.equal(joiner.join(TYPE, run(100)), body, 'the same entries (from the cache) in the same order: the same body')
  t.same(joiner.stats(), { joins: 1, reuses: 1 })
  const reordered = [...long.slice(1), long[0]!]
  t.not(joiner.join(TYPE, reordered), body, 'another order is another body')
  const bumped = run(100, '2')
  const other = joiner.join(TYPE, bumped)
  t.same(Buffer.compare(other, Buffer.concat(bumped)), 0, 'a new version of the entries: a new body')
  t.equal(joiner.join('type.googleapis.com/other', bumped) === other, false, 'kept per type URL')
  const few = run(3, '3')
  const small = joiner.join(TYPE, few)
  t.same(Buffer.compare(small, Buffer.concat(few)), 0)
  t.equal(joiner.join(TYPE, bumped), other, "a short run (a push's few changes) does not replace the kept body")
  const response = encodeDeltaResponse({ systemVersionInfo: '9', typeUrl: TYPE, nonce: 'n-2', removedResources: ['z'] }, other)
  t.same(
    Buffer.compare(
      response.bytes,
      encodeDeltaResponse({ systemVersionInfo: '9', typeUrl: TYPE, nonce: 'n-2', removedResources: ['z'] }, bumped).bytes,
    ),
    0,
    'a response around a joined body is the response around its entries',
  )
})

/** An in-memory server call: records what the server writes, decoded. */
class FakeCall extends MemoryServerCall {
  constructor(token: string, peer: string) {
    super({ path: METHOD.path, metadata: { authorization: `Bearer ${token}` }, peer, keep: true })
  }
  get written(): readonly Buffer[] {
    return this.kept
  }
  last() {
    return Response.decode(this.kept.at(-1)!)
  }
  request(r: DeltaRequest): void {
    this.send(METHOD.requestSerialize(r))
  }
}

const METHOD = AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources

/** The server's handler, called with an in-memory call. */
const handlerOf = (ads: DeltaAdsServer): ((call: FakeCall) => void) => {
  const m = ads.service.methods[METHOD.path]
  if (m?.kind !== 'stream') throw new Error('the Delta ADS server has no streaming DeltaAggregatedResources')
  return (call) => m.handle(call)
}

/** Resolves once the server has authenticated the call (authentication is asynchronous). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

class Provider implements ResourceProvider {
  readonly typeUrl = TYPE
  items = new Map<string, VersionedResource>()
  /** Per node, a filtered map of its own (a node-bound provider), when set. */
  only: ((node: string, name: string) => boolean) | undefined
  resources(_nodeId: string, peer: { nodeName: string }): ReadonlyMap<string, VersionedResource> {
    const only = this.only
    if (only === undefined) return this.items
    return new Map([...this.items].filter(([name]) => only(peer.nodeName, name)))
  }
}

async function rig(t: Test, nodes: string[]) {
  const provider = new Provider()
  for (const n of ['a', 'b', 'c']) provider.items.set(n, versioned(bytes(`${n}-1`)))
  const ads = createDeltaAdsServer({ providers: [provider], authenticate: (token) => token })
  t.teardown(() => ads.close())
  const handle = handlerOf(ads)
  const calls = nodes.map((n, i) => new FakeCall(n, `127.0.0.1:${1000 + i}`))
  for (const c of calls) handle(c)
  await settle()
  for (const [i, c] of calls.entries()) c.request({ node: { id: `ztunnel~${nodes[i]}` }, typeUrl: TYPE, resourceNamesSubscribe: ['*'] })
  return { provider, ads, calls }
}

type Decoded = ReturnType<FakeCall['last']>
const names = (r: Decoded): string[] => (r.resources ?? []).map((x) => x.name ?? '').sort()
/** The encoded entries of a response, by name (what is shared between clients). */
const entries = (r: Decoded): Map<string, string> =>
  new Map(
    (r.resources ?? []).map((x) => [x.name ?? '', Buffer.from(envoy.service.discovery.v3.Resource.encode(x).finish()).toString('hex')]),
  )

t.test('clients of an initial sync share one joined body; each response keeps its own nonce', async (t) => {
  const provider = new Provider()
  for (let i = 0; i < 100; i++) provider.items.set(`w${i}`, versioned(bytes(`w${i}-1`)))
  const ads = createDeltaAdsServer({ providers: [provider], authenticate: (token) => token })
  t.teardown(() => ads.close())
  const handle = handlerOf(ads)
  const calls = ['n1', 'n2', 'n3'].map((n, i) => new FakeCall(n, `127.0.0.1:${2000 + i}`))
  for (const c of calls) handle(c)
  await settle()
  for (const [i, c] of calls.entries()) c.request({ node: { id: `ztunnel~n${i + 1}` }, typeUrl: TYPE, resourceNamesSubscribe: ['*'] })
  t.same(ads.joinStats(), { joins: 1, reuses: 2, fullSendReuses: 2 }, 'joined for the first client, shared with the next two')
  const [one, two, three] = calls.map((c) => c.last())
  t.equal(names(one!).length, 100)
  t.same([...entries(one!)], [...entries(two!)])
  t.same([...entries(one!)], [...entries(three!)])
  t.equal(new Set(calls.map((c) => c.last().nonce)).size, 3, 'a nonce per stream')
  // A client that already holds some resources gets another set of entries: joined for it alone.
  const late = new FakeCall('n4', '127.0.0.1:2003')
  handle(late)
  await settle()
  late.request({
    node: { id: 'ztunnel~n4' },
    typeUrl: TYPE,
    resourceNamesSubscribe: ['*'],
    initialResourceVersions: { w0: versioned(bytes('w0-1')).version },
  })
  t.equal(names(late.last()).length, 99, 'all but the one it holds')
  t.same(ads.joinStats(), { joins: 2, reuses: 2, fullSendReuses: 2 }, 'not a full send: diffed and joined for it alone')

  // The provider's map changes in place: the next fresh client must see the change, not the last full send.
  const fresh = async (node: string): Promise<FakeCall> => {
    const c = new FakeCall(node, `127.0.0.1:${3000 + Number(node.slice(1))}`)
    handle(c)
    await settle()
    c.request({ node: { id: `ztunnel~${node}` }, typeUrl: TYPE, resourceNamesSubscribe: ['*'] })
    return c
  }
  provider.items.set('w5', versioned(bytes('w5-2')))
  const afterUpdate = (await fresh('n5')).last()
  t.equal(names(afterUpdate).length, 100)
  t.equal(afterUpdate.resources?.find((r) => r.name === 'w5')?.resource?.value?.toString(), 'w5-2', 'the new version')
  provider.items.delete('w7')
  provider.items.set('w100', versioned(bytes('w100-1')))
  const afterChurn = names((await fresh('n6')).last())
  t.notOk(afterChurn.includes('w7'), 'a removed resource is not sent')
  t.ok(afterChurn.includes('w100'), 'an added one is')
  const again = names((await fresh('n7')).last())
  t.same(again, afterChurn, 'the next fresh client gets the same')
  t.equal(ads.joinStats().fullSendReuses, 3, 'from the last full send: nothing changed since')
})

t.test('two clients get byte-identical resource entries; a version bump is encoded once for both', async (t) => {
  const { provider, ads, calls } = await rig(t, ['node1', 'node2'])
  const [one, two] = calls as [FakeCall, FakeCall]
  t.same(names(one.last()), ['a', 'b', 'c'])
  t.same([...entries(one.last())], [...entries(two.last())], 'same entries, byte for byte')
  // The second client repeats the first one's full send (no cache lookup per resource).
  t.same(ads.encodeStats(), { encodes: 3, hits: 0, entries: 3 }, 'three resources encoded once for two clients')
  t.equal(ads.joinStats().fullSendReuses, 1)
  for (const c of calls) c.request({ typeUrl: TYPE, responseNonce: c.last().nonce ?? '' })

  provider.items.set('b', versioned(bytes('b-2')))
  ads.push(TYPE)
  for (const c of calls) t.same(names(c.last()), ['b'], 'only the change')
  t.same(entries(one.last()), entries(two.last()))
  t.equal(ads.encodeStats().encodes, 4, 'the new version of b was encoded once')

  provider.items.delete('c')
  provider.items.set('d', versioned(bytes('d-1')))
  ads.push(TYPE)
  for (const c of calls) {
    t.same(names(c.last()), ['d'])
    t.same(c.last().removedResources, ['c'], 'the removal reaches every client')
  }
  const sent = one.written.length
  ads.push(TYPE)
  t.equal(one.written.length, sent, 'a push without a change sends nothing')
})

t.test(
  'the snapshot diff: a late subscriber, an unsubscribe and a reconnect with versions still get exactly their difference',
  async (t) => {
    const { provider, ads, calls } = await rig(t, ['node1'])
    const [one] = calls as [FakeCall]
    provider.items.set('a', versioned(bytes('a-2')))
    ads.push(TYPE) // node1 subscribed outside a push, in step with no snapshot yet: diffed in full, in step afterwards
    t.same(names(one.last()), ['a'])
    // A client connecting with what it holds (initial_resource_versions) between pushes.
    const late = new FakeCall('node2', '127.0.0.1:2000')
    handlerOf(ads)(late)
    await settle()
    const held = provider.items.get('b')!.version
    late.request({
      node: { id: 'ztunnel~node2' },
      typeUrl: TYPE,
      resourceNamesSubscribe: ['*'],
      initialResourceVersions: { b: held, gone: 'v0' },
    })
    t.same(names(late.last()), ['a', 'c'], 'what it lacks')
    t.same(late.last().removedResources, ['gone'], 'what no longer exists')
    provider.items.set('c', versioned(bytes('c-2')))
    ads.push(TYPE)
    t.same(names(one.last()), ['c'])
    t.same(names(late.last()), ['c'])
    // Unsubscribing from the wildcard and naming one resource: a subscription change diffs in full.
    one.request({ typeUrl: TYPE, resourceNamesUnsubscribe: ['*'], resourceNamesSubscribe: ['a'] })
    t.same(names(one.last()), ['a'], 'a named subscription is sent even if held')
    t.same(one.last().removedResources?.slice().sort(), ['b', 'c'], 'what it no longer wants')
    provider.items.set('b', versioned(bytes('b-3')))
    provider.items.set('a', versioned(bytes('a-3')))
    const before = one.written.length
    ads.push(TYPE)
    t.equal(one.written.length, before + 1)
    t.same(names(one.last()), ['a'], 'only the named resource it wants')
    t.same(names(late.last()), ['a', 'b'])
    provider.items.set('b', versioned(bytes('b-4')))
    ads.push(TYPE)
    t.equal(one.written.length, before + 1, 'nothing for a change it does not want')
    t.same(names(late.last()), ['b'])
  },
)

/** The provider's map, counting full walks over it (the diff in full; the snapshot's own read). */
class CountingMap extends Map<string, VersionedResource> {
  walks = 0;
  override [Symbol.iterator](): MapIterator<[string, VersionedResource]> {
    this.walks++
    return super[Symbol.iterator]()
  }
}

t.test(
  'a client that subscribes between pushes joins the last snapshot: the next push walks the map once, not once per client',
  async (t) => {
    const { provider, ads, calls } = await rig(t, ['node1'])
    const counting = new CountingMap(provider.items)
    provider.items = counting
    const [one] = calls as [FakeCall]
    counting.set('a', versioned(bytes('a-2')))
    ads.push(TYPE) // the first snapshot; node1 (subscribed before it) is diffed in full once
    t.same(names(one.last()), ['a'])
    const late = ['node2', 'node3'].map((n, i) => new FakeCall(n, `127.0.0.1:${3000 + i}`))
    for (const [i, c] of late.entries()) {
      handlerOf(ads)(c)
      await settle()
      c.request({ node: { id: `ztunnel~${['node2', 'node3'][i]}` }, typeUrl: TYPE, resourceNamesSubscribe: ['*'] })
      t.same(names(c.last()), ['a', 'b', 'c'], 'the initial send: everything')
    }
    // Changed in place after node3 subscribed: the snapshot no longer matches; a client subscribing now must not join it.
    counting.set('b', versioned(bytes('b-2')))
    const stale = new FakeCall('node4', '127.0.0.1:3010')
    handlerOf(ads)(stale)
    await settle()
    stale.request({ node: { id: 'ztunnel~node4' }, typeUrl: TYPE, resourceNamesSubscribe: ['*'] })
    t.same(names(stale.last()), ['a', 'b', 'c'])
    counting.walks = 0
    ads.push(TYPE)
    t.equal(counting.walks, 2, 'the snapshot reads the map once, and only the client that could not join diffs it in full')
    for (const c of [one, ...late]) t.same(names(c.last()), ['b'], 'every joined client gets exactly the change')
    t.equal(stale.written.length, 1, 'the client that already has b-2 gets nothing more')
    counting.set('c', versioned(bytes('c-2')))
    counting.walks = 0
    ads.push(TYPE)
    t.equal(counting.walks, 1, 'all four in step now')
    for (const c of [one, ...late, stale]) t.same(names(c.last()), ['c'])
  },
)

t.test('the clients of the very first sync (before any push) are in step at the first push: it walks the map once', async (t) => {
  const provider = new Provider()
  const counting = new CountingMap()
  for (const n of ['a', 'b', 'c']) counting.set(n, versioned(bytes(`${n}-1`)))
  provider.items = counting
  const ads = createDeltaAdsServer({ providers: [provider], authenticate: (token) => token })
  t.teardown(() => ads.close())
  const calls = ['node1', 'node2', 'node3'].map((n, i) => new FakeCall(n, `127.0.0.1:${4000 + i}`))
  for (const c of calls) handlerOf(ads)(c)
  await settle()
  for (const [i, c] of calls.entries()) c.request({ node: { id: `ztunnel~node${i + 1}` }, typeUrl: TYPE, resourceNamesSubscribe: ['*'] })
  for (const c of calls) t.same(names(c.last()), ['a', 'b', 'c'])
  t.equal(ads.joinStats().fullSendReuses, 2, 'the second and third clients repeat the first full send')
  counting.set('b', versioned(bytes('b-2')))
  counting.walks = 0
  ads.push(TYPE)
  t.equal(counting.walks, 1, 'the snapshot reads the map once; no client is diffed in full')
  for (const c of calls) t.same(names(c.last()), ['b'], 'exactly the change')
  counting.delete('a')
  ads.push(TYPE)
  for (const c of calls) t.same(c.last().removedResources, ['a'], 'a removal reaches the clients that share the first send')
  t.equal(ads.status().connections[0]!.subscriptions[0]!.resources, 2)
})

t.test('a node-bound provider: each client gets only its own resources, with the shared encoding', async (t) => {
  const { provider, ads, calls } = await rig(t, ['node1', 'node2'])
  const [one, two] = calls as [FakeCall, FakeCall]
  provider.only = (node, name) => name === 'a' || (node === 'node1' ? name === 'b' : name === 'c')
  provider.items.set('a', versioned(bytes('a-2')))
  ads.push(TYPE)
  t.same(names(one.last()), ['a'])
  t.same(one.last().removedResources, ['c'], 'node1 may not hold c')
  t.same(names(two.last()), ['a'])
  t.same(two.last().removedResources, ['b'], 'node2 may not hold b')
  t.same(entries(one.last()).get('a'), entries(two.last()).get('a'), 'the shared resource is the same entry')
  provider.items.set('b', versioned(bytes('b-2')))
  provider.items.set('c', versioned(bytes('c-2')))
  ads.push(TYPE)
  t.same(names(one.last()), ['b'])
  t.same(names(two.last()), ['c'])
})
