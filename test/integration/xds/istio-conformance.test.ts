// Our ztunnel's xDS client against a minimal Istio-shaped control plane written here: it serves
// with a certificate whose DNS SAN is `istiod.istio-system.svc` (the name ztunnel verifies), parses
// the node id as Istio's istiod does (`type~ip~pod.namespace~namespace.svc.domain`), requires the
// bearer token and the `clusterid` header, and sends messages built field by field in Istio's
// layout (numbers and wire types restated from Istio's workload.proto and authorization.proto).
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js'
import protobuf from 'protobufjs/minimal.js'
import t from 'tap'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import type { MeshChange } from '../../../src/mesh/change.js'
import { MeshState } from '../../../src/mesh/state.js'
import type { Workload } from '../../../src/mesh/types.js'
import type { DeltaRequest, DeltaResponse } from '../../../src/xds/grpc-definitions.js'
import { AGGREGATED_DISCOVERY_SERVICE } from '../../../src/xds/grpc-definitions.js'
import { ztunnelNode } from '../../../src/xds/node-id.js'
import { createXdsSource } from '../../../src/ztunnel/xds-source.js'
import { createLogger } from '../../../src/observability/logger.js'
import { eventually } from '../../helpers/eventually.js'
import { createTestPki } from '../../helpers/pki.js'

const ADDRESS = 'type.googleapis.com/istio.workload.Address'
const AUTHZ = 'type.googleapis.com/istio.security.Authorization'

/** Field-by-field protobuf, independent of our .proto files. */
function msg(build: (w: protobuf.Writer) => void): Uint8Array {
  const w = protobuf.Writer.create()
  build(w)
  return w.finish()
}
const str = (w: protobuf.Writer, f: number, s: string) => w.uint32((f << 3) | 2).string(s)
const bytes = (w: protobuf.Writer, f: number, b: Uint8Array) => w.uint32((f << 3) | 2).bytes(b)
const varint = (w: protobuf.Writer, f: number, n: number) => w.uint32(f << 3).uint32(n)

// Address{workload=1}: a pod as Istio's istiod sends it (trust domain elided, waypoint by VIP,
// LEGACY_ISTIO_MTLS sidecar peer next to it, network_mode, an extension of someone else's).
const POD = msg((a) =>
  bytes(
    a,
    1,
    msg((w) => {
      str(w, 20, 'Kubernetes//Pod/shop/web-1')
      str(w, 1, 'web-1')
      str(w, 2, 'shop')
      bytes(w, 3, Uint8Array.of(10, 244, 1, 5))
      varint(w, 5, 1) /* HBONE */
      str(w, 7, 'web')
      bytes(
        w,
        8,
        msg((g) => {
          bytes(
            g,
            2,
            msg((n) => bytes(n, 2, Uint8Array.of(10, 96, 0, 9))),
          )
          varint(g, 3, 15008)
        }),
      )
      str(w, 9, 'node-1')
      varint(w, 12, 2)
      str(w, 18, 'Kubernetes')
      varint(w, 25, 0)
      bytes(
        w,
        26,
        msg((e) => str(e, 1, 'vendor.example/extra')),
      )
    }),
  ),
)
const SIDECAR = msg((a) =>
  bytes(
    a,
    1,
    msg((w) => {
      str(w, 20, 'Kubernetes//Pod/shop/legacy-1')
      str(w, 2, 'shop')
      bytes(w, 3, Uint8Array.of(10, 244, 1, 6))
      varint(w, 5, 2)
    }),
  ),
)
const STATIC_STRICT = msg((p) => {
  str(p, 1, 'istio_converted_static_strict')
  str(p, 2, 'istio-system')
  varint(p, 3, 2)
  varint(p, 4, 1)
  const presence = msg((s) => bytes(s, 4, new Uint8Array())) // StringMatch.presence (Empty)
  const notPrincipals = msg((m) => bytes(m, 4, presence)) // Match.not_principals
  const clause = msg((c) => bytes(c, 2, notPrincipals)) // Clause.matches
  bytes(
    p,
    5,
    msg((r) => bytes(r, 1, clause)),
  ) // Authorization.rules → Rule.clauses
})

/** Istio's reading of a node id (pilot's ParseServiceNodeWithMetadata: four `~` parts). */
function istioParseNodeId(id: string): { type: string; ip: string; podName: string; namespace: string; dnsDomain: string } {
  const parts = id.split('~')
  if (parts.length !== 4) throw new Error(`missing parts in the service node ${id}`)
  const [type, ip, podAndNs, dnsDomain] = parts as [string, string, string, string]
  const i = podAndNs.lastIndexOf('.')
  return { type, ip, podName: podAndNs.slice(0, i), namespace: podAndNs.slice(i + 1), dnsDomain }
}

t.test('our ztunnel against an Istio-shaped istiod: DNS-SAN certificate, node id, clusterid header, Istio-encoded messages', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const istiodId = SpiffeId.parse('spiffe://cluster.local/ns/istio-system/sa/istiod')
  const cert = await pki.ca.issue(istiodId, { dnsNames: ['istiod.istio-system.svc'] })

  const seen: {
    node?: ReturnType<typeof istioParseNodeId>
    metadata?: Record<string, string>
    clusterId?: string
    auth?: string
    acks: string[]
    nacks: string[]
  } = { acks: [], nacks: [] }
  const server = new Server()
  server.addService(AGGREGATED_DISCOVERY_SERVICE, {
    DeltaAggregatedResources: (call: ServerDuplexStream<DeltaRequest, DeltaResponse>) => {
      seen.auth = String(call.metadata.get('authorization')[0] ?? '')
      seen.clusterId = String(call.metadata.get('clusterid')[0] ?? '')
      let n = 0
      call.on('data', (req: DeltaRequest) => {
        if (req.node?.id) {
          seen.node = istioParseNodeId(req.node.id)
          seen.metadata = Object.fromEntries(Object.entries(req.node.metadata?.fields ?? {}).map(([k, v]) => [k, v.stringValue ?? '']))
        }
        if (req.responseNonce) {
          ;(req.errorDetail ? seen.nacks : seen.acks).push(`${req.typeUrl}:${req.errorDetail?.message ?? ''}`)
          return
        }
        const resources =
          req.typeUrl === ADDRESS
            ? [
                { name: 'Kubernetes//Pod/shop/web-1', version: '1', resource: { type_url: ADDRESS, value: POD } },
                { name: 'Kubernetes//Pod/shop/legacy-1', version: '1', resource: { type_url: ADDRESS, value: SIDECAR } },
              ]
            : [{ name: 'istio-system/istio_converted_static_strict', version: '1', resource: { type_url: AUTHZ, value: STATIC_STRICT } }]
        call.write({ systemVersionInfo: '2026-12-07T00:00:00Z/1', typeUrl: req.typeUrl ?? '', nonce: `n${++n}`, resources })
      })
      call.on('end', () => call.end())
    },
  })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      ServerCredentials.createSsl(
        Buffer.from(pki.rootPem),
        [{ cert_chain: Buffer.from(cert.certChainPem.join('')), private_key: Buffer.from(cert.keyPem) }],
        false,
      ),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  )
  t.teardown(() => server.forceShutdown())

  const node = ztunnelNode({
    podName: 'ztunnel-x7k2p',
    podNamespace: 'istio-system',
    nodeName: 'node-1',
    instanceIp: '10.244.1.2',
    clusterId: 'Kubernetes',
    clusterDomain: 'cluster.local',
    proxyMetadata: { DNS_CAPTURE: 'true' },
  })
  const changes: MeshChange[] = []
  const state = new MeshState()
  const source = createXdsSource({
    target: `127.0.0.1:${port}`,
    tls: { rootCertPem: pki.rootPem, serverIdentity: 'istiod.istio-system.svc' },
    token: 'projected-token',
    ...node,
    mesh: {
      apply: (c) => {
        changes.push(...c)
        return state.apply(c)
      },
    },
    logger: createLogger({ component: 'test', level: 'silent' }),
  })
  t.teardown(() => source.close())
  await source.start({ timeoutMs: 10_000 })

  t.same(
    seen.node,
    { type: 'ztunnel', ip: '10.244.1.2', podName: 'ztunnel-x7k2p', namespace: 'istio-system', dnsDomain: 'istio-system.svc.cluster.local' },
    'Istio parses our node id',
  )
  t.match(seen.metadata, {
    NAME: 'ztunnel-x7k2p',
    NAMESPACE: 'istio-system',
    INSTANCE_IPS: '10.244.1.2',
    NODE_NAME: 'node-1',
    CLUSTER_ID: 'Kubernetes',
    DNS_CAPTURE: 'true',
  })
  t.equal(seen.clusterId, 'Kubernetes', 'clusterid header')
  t.equal(seen.auth, 'Bearer projected-token')
  await eventually(() => seen.acks.length === 2)
  t.same(seen.nacks, [], 'nothing Istio sends is refused')
  const workloads = changes.flatMap((c) => (c.op === 'upsert' && c.kind === 'workload' ? [c.value as Workload] : []))
  t.match(
    workloads.find((w) => w.name === 'web-1'),
    { trustDomain: 'cluster.local', tunnelProtocol: 'HBONE', waypoint: { kind: 'address', address: '10.96.0.9', hboneMtlsPort: 15008 } },
  )
  t.equal(workloads.find((w) => w.uid.endsWith('legacy-1'))?.tunnelProtocol, 'LEGACY_ISTIO_MTLS')
  t.ok(
    changes.some((c) => c.op === 'upsert' && c.kind === 'policy'),
    'the static STRICT policy is held',
  )
})

t.test('a client verifying another DNS name does not accept that istiod', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const cert = await pki.ca.issue(SpiffeId.parse('spiffe://cluster.local/ns/istio-system/sa/istiod'), {
    dnsNames: ['istiod.istio-system.svc'],
  })
  const server = new Server()
  server.addService(AGGREGATED_DISCOVERY_SERVICE, { DeltaAggregatedResources: () => undefined })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      ServerCredentials.createSsl(
        Buffer.from(pki.rootPem),
        [{ cert_chain: Buffer.from(cert.certChainPem.join('')), private_key: Buffer.from(cert.keyPem) }],
        false,
      ),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  )
  t.teardown(() => server.forceShutdown())
  const source = createXdsSource({
    target: `127.0.0.1:${port}`,
    tls: { rootCertPem: pki.rootPem, serverIdentity: 'istiod.other.svc' },
    token: 't',
    nodeId: 'x',
    mesh: new MeshState(),
    logger: createLogger({ component: 'test', level: 'silent' }),
  })
  t.teardown(() => source.close())
  await t.rejects(source.start({ timeoutMs: 1_500 }))
  t.match(source.status().lastError ?? '', /does not name istiod.other.svc|certificate/)
})
