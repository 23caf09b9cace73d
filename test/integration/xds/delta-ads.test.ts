import assert from 'node:assert/strict'
import { Client, Metadata, status as Status } from '@grpc/grpc-js'
import type { ServiceError } from '@grpc/grpc-js'
import t from 'tap'
import { match } from '../../../src/authz/policy.js'
import type { Authorization } from '../../../src/authz/policy.js'
import { TYPE_URL } from '../../../src/xds/convert.js'
import { ADS_MAX_MESSAGE_BYTES, createDeltaAdsClient } from '../../../src/xds/delta-client.js'
import { bearerMetadata, channelCredentials } from '../../helpers/grpc-js-channel.js'
import { AGGREGATED_DISCOVERY_SERVICE } from '../../../src/xds/grpc-definitions.js'
import { eventually } from '../../helpers/eventually.js'
import { workload } from '../../helpers/mesh-view.js'
import type { ServicePorts } from '../../helpers/mesh-view.js'
import { createTestPki } from '../../helpers/pki.js'
import { connectZtunnel, ISTIOD_ID, startIstiod } from './harness.js'
import type { Istiod } from './harness.js'

const policy: Authorization = {
  name: 'allow-web',
  namespace: 'default',
  scope: 'NAMESPACE',
  action: 'ALLOW',
  dryRun: false,
  rules: [{ clauses: [{ matches: [match({ destinationPorts: [8080] })] }] }],
}
const w = (name: string, ip: string, over: Parameters<typeof workload>[0] extends infer L ? Partial<L> : never = {}) =>
  workload({ name, addresses: [ip], ...over })
const uid = (name: string) => w(name, '10.0.0.1').uid

function seed(istiod: Istiod): void {
  istiod.setWorkload(w('a', '10.0.0.1'))
  istiod.setWorkload(w('b', '10.0.0.2'))
  istiod.setWorkload(w('c', '10.0.0.3'))
  istiod.setPolicy(policy)
}

t.test('Delta ADS over TLS: sync, deltas, removal, NACK, reconnect without resending', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  let istiod = await startIstiod(pki)
  t.teardown(() => istiod.close())
  seed(istiod)
  const port = istiod.grpc.port

  const z1 = connectZtunnel(pki, istiod.grpc.target, 'token-node1', 'ztunnel~10.0.0.1~node1')
  const z2 = connectZtunnel(pki, istiod.grpc.target, 'token-node2', 'ztunnel~10.0.0.2~node2')
  t.teardown(() => z1.client.close())
  t.teardown(() => z2.client.close())

  await t.test('initial sync: both clients get everything', async (t) => {
    for (const z of [z1, z2]) {
      await eventually(() => {
        assert.ok(z.client.synced)
        return true
      })
      t.same([...z.addresses.keys()].sort(), [uid('a'), uid('b'), uid('c')])
      t.same([...z.policies.keys()], ['default/allow-web'])
      t.equal(z.client.stats().resources, 4)
    }
    await eventually(() => {
      assert.equal(istiod.metrics.connected, 2)
      return true
    })
    const conns = istiod.ads.status().connections
    t.same(conns.map((c) => c.nodeName).sort(), ['node1', 'node2'])
    t.same(conns.map((c) => c.nodeId).sort(), ['ztunnel~10.0.0.1~node1', 'ztunnel~10.0.0.2~node2'])
    t.ok(conns.every((c) => c.subscriptions.length === 2 && c.subscriptions.every((s) => s.wildcard)))
    await eventually(() => {
      assert.equal(istiod.metrics.acks, 4, 'one ACK per type per client')
      return true
    })
    t.ok(istiod.metrics.latencies.every((l) => l >= 0))
  })

  await t.test('one change: only that resource is pushed, to both', async (t) => {
    const before = [z1.client.stats(), z2.client.stats()]
    istiod.setWorkload(w('b', '10.0.0.2', { status: 'UNHEALTHY' }))
    istiod.ads.push()
    for (const [i, z] of [z1, z2].entries()) {
      await eventually(() => {
        assert.equal((z.addresses.get(uid('b'))?.value as { status: string }).status, 'UNHEALTHY')
        return true
      })
      t.equal(z.client.stats().resources - before[i]!.resources, 1, 'exactly one resource sent')
      t.equal(z.client.stats().responses - before[i]!.responses, 1, 'one response (the policy type had nothing to send)')
    }
    const last = z1.batches.at(-1)!
    t.equal(last.kind, 'address')
    t.same(
      last.upserts.map((u) => u.name),
      [uid('b')],
    )
  })

  await t.test('a push with nothing changed sends nothing', async (t) => {
    const before = z1.client.stats().responses
    const pushes = istiod.metrics.pushes
    istiod.setWorkload(w('b', '10.0.0.2', { status: 'UNHEALTHY' })) // same content, same version
    istiod.ads.push()
    t.equal(istiod.metrics.pushes, pushes)
    t.equal(z1.client.stats().responses, before)
  })

  await t.test('a removal reaches both clients', async (t) => {
    istiod.addresses.items.delete(uid('c'))
    istiod.ads.push(TYPE_URL.address)
    for (const z of [z1, z2]) {
      await eventually(() => {
        assert.ok(!z.addresses.has(uid('c')))
        return true
      })
      t.same(z.batches.at(-1)!.removals, [uid('c')])
    }
  })

  await t.test('a NACK is recorded in status() with type, nonce and reason; the client keeps its state', async (t) => {
    z2.reject = (batch) => (batch.upserts.some((u) => u.name === uid('bad')) ? 'workload bad is not acceptable' : undefined)
    istiod.setWorkload(w('bad', '10.0.0.66'))
    istiod.ads.push(TYPE_URL.address)
    await eventually(() => {
      assert.equal(istiod.ads.status().nacks.length, 1)
      return true
    })
    const nack = istiod.ads.status().nacks[0]!
    t.match(nack, {
      nodeName: 'node2',
      nodeId: 'ztunnel~10.0.0.2~node2',
      typeUrl: TYPE_URL.address,
      reason: 'workload bad is not acceptable',
    })
    t.match(nack.nonce, /\S/)
    t.equal(istiod.metrics.nacks, 1)
    await eventually(() => {
      assert.ok(z1.addresses.has(uid('bad')), 'the other client accepted it')
      return true
    })
    t.notOk(z2.addresses.has(uid('bad')))
    t.notOk(z2.client.versions(TYPE_URL.address).has(uid('bad')), 'a rejected resource is not counted as held')
    t.equal(z2.client.stats().nacks, 1)
    z2.reject = undefined
  })

  await t.test('server restart: clients keep their state while it is away, then resync by difference', async (t) => {
    const held = new Map(z1.addresses)
    const before = z1.client.stats()
    const { addresses, policies } = istiod
    await istiod.close()
    await eventually(() => {
      assert.equal(z1.client.state, 'disconnected')
      return true
    })
    t.same(z1.addresses, held, 'nothing cleared on disconnect')
    // While istiod is away: one workload changes, one goes.
    addresses.set(uid('a'), addresses.items.get(uid('a'))!.bytes) // unchanged
    istiod = await startIstiod(pki, { port, addresses, policies })
    istiod.setWorkload(w('a', '10.0.0.1', { capacity: 7 }))
    addresses.items.delete(uid('bad'))
    await eventually(() => {
      assert.equal(z1.client.state, 'connected')
      return true
    })
    await eventually(() => {
      assert.equal((z1.addresses.get(uid('a'))?.value as { capacity: number }).capacity, 7)
      return true
    })
    await eventually(() => {
      assert.ok(!z1.addresses.has(uid('bad')))
      return true
    })
    const after = z1.client.stats()
    t.equal(after.connects - before.connects >= 1, true, 'reconnected')
    t.equal(after.resources - before.resources, 1, 'only the changed workload was sent; unchanged ones and the policy were not')
    t.equal(after.removals - before.removals, 1)
    // z2 never accepted "bad": it reported its versions, so it gets no removal for it.
    await eventually(() => {
      assert.equal(z2.client.state, 'connected')
      return true
    })
    await eventually(() => {
      assert.equal((z2.addresses.get(uid('a'))?.value as { capacity: number }).capacity, 7)
      return true
    })
    t.notOk(z2.batches.some((b) => b.removals.includes(uid('bad'))))
  })
})

t.test('streams without a valid bearer token are refused with UNAUTHENTICATED', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const istiod = await startIstiod(pki)
  t.teardown(() => istiod.close())
  const creds = channelCredentials({ rootCertPem: pki.rootPem, serverIdentity: ISTIOD_ID })
  const m = AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources
  for (const [name, metadata] of [
    ['missing', undefined],
    ['wrong', bearerMetadata('nope')],
  ] as const) {
    const client = new Client(istiod.grpc.target, creds)
    t.teardown(() => client.close())
    const call = client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, metadata ?? new Metadata())
    const err = await new Promise<ServiceError>((resolve) => {
      call.on('error', resolve)
      call.on('data', () => undefined)
      call.write({ typeUrl: TYPE_URL.address })
    })
    t.equal(err.code, Status.UNAUTHENTICATED, `${name} token`)
  }
  t.equal(istiod.ads.status().connections.length, 0)
  const z = connectZtunnel(pki, istiod.grpc.target, 'nope', 'ztunnel~x~node9')
  t.teardown(() => z.client.close())
  await eventually(() => {
    assert.match(z.client.lastError ?? '', /UNAUTHENTICATED/)
    return true
  })
  t.notOk(z.client.synced)
})

t.test('a client that expects another server identity does not connect', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const istiod = await startIstiod(pki)
  t.teardown(() => istiod.close())
  seed(istiod)
  const z = connectZtunnel(pki, istiod.grpc.target, 'token-node1', 'n1')
  t.teardown(() => z.client.close())
  await eventually(() => {
    assert.ok(z.client.synced)
    return true
  })
  const wrong = createDeltaAdsClient({
    target: istiod.grpc.target,
    tls: { rootCertPem: pki.rootPem, serverIdentity: 'spiffe://cluster.local/ns/evil/sa/istiod' },
    token: 'token-node1',
    nodeId: 'n1',
    types: { address: { typeUrl: TYPE_URL.address, decode: (b) => b } },
    handler: () => undefined,
  })
  wrong.start()
  t.teardown(() => wrong.close())
  await eventually(() => {
    assert.ok(wrong.lastError !== undefined && wrong.stats().connects >= 2)
    return true
  })
  t.notOk(wrong.synced)
})

t.test('a resource that does not decode is NACKed with the reason and not applied', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const istiod = await startIstiod(pki)
  t.teardown(() => istiod.close())
  seed(istiod)
  const z = connectZtunnel(pki, istiod.grpc.target, 'token-node1', 'n1')
  t.teardown(() => z.client.close())
  await eventually(() => {
    assert.ok(z.client.synced)
    return true
  })
  istiod.addresses.set('broken', Uint8Array.of(0x0a, 0x02, 0x0a, 0x00)) // Address{workload: {name: ''}}: no uid
  istiod.ads.push(TYPE_URL.address)
  await eventually(() => {
    assert.equal(istiod.ads.status().nacks.length, 1)
    return true
  })
  t.match(istiod.ads.status().nacks[0]!.reason, /resource broken: workload \(no uid\): uid is required/)
  t.notOk(z.addresses.has('broken'))
  t.equal(z.client.versions(TYPE_URL.address).size, 3)
})

t.test(
  "a first sync larger than gRPC's usual 4 MiB is accepted (the proxies take ADS messages up to 200 MiB, as ztunnel does)",
  async (t) => {
    const pki = await createTestPki()
    t.teardown(() => pki.close())
    const istiod = await startIstiod(pki)
    t.teardown(() => istiod.close())
    const count = 6000
    const services: ServicePorts = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [`default/svc-${i}.default.svc.cluster.local`, [[80, 8080] as const]]),
    )
    for (let i = 0; i < count; i++) {
      istiod.setWorkload(w(`big-${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, { services }))
    }
    let bytes = 0
    for (const r of istiod.addresses.items.values()) bytes += r.bytes.length
    t.ok(
      bytes > ADS_MAX_MESSAGE_BYTES / 50 && bytes > 4 * 1024 * 1024,
      `the Address response holds ${bytes} bytes of resources, more than 4 MiB`,
    )
    const z = connectZtunnel(pki, istiod.grpc.target, 'token-node1', 'n1')
    t.teardown(() => z.client.close())
    await eventually(() => {
      assert.ok(z.client.synced)
      return true
    })
    t.equal(z.addresses.size, count)
    t.equal(istiod.ads.status().nacks.length, 0)
  },
)

t.test('the server refuses streams after close() and clients see UNAVAILABLE', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const istiod = await startIstiod(pki)
  seed(istiod)
  const z = connectZtunnel(pki, istiod.grpc.target, 'token-node1', 'n1')
  t.teardown(() => z.client.close())
  await eventually(() => {
    assert.ok(z.client.synced)
    return true
  })
  await istiod.close()
  await eventually(() => {
    assert.equal(z.client.state, 'disconnected')
    return true
  })
  t.equal(istiod.metrics.connected, 0)
  t.equal(z.addresses.size, 3, 'state kept')
  await z.client.close()
  t.equal(z.client.state, 'closed')
})
