// Wire compatibility with Istio's own definitions: the bytes here are built field by field with
// protobufjs' Writer, in the layout Istio's workloadapi and authorization protos define (field
// numbers and wire types from the reference), independent of our .proto files. Decoding them
// through our generated code must give the expected domain values; fields Istio has and we do
// not declare must be skipped.
import protobuf from 'protobufjs/minimal.js'
import t from 'tap'
import type { Service, Workload } from '../../../src/mesh/types.js'
import { decodeAddress, decodeAuthorization, encodeAddress, encodeAuthorization } from '../../../src/xds/convert.js'

type W = protobuf.Writer
const VARINT = 0
const LEN = 2

/** A message built by hand: each call writes one field by number. */
function msg(build: (m: Fields) => void): Uint8Array {
  const w = protobuf.Writer.create()
  build(new Fields(w))
  return w.finish()
}

class Fields {
  constructor(private readonly w: W) {}
  str(field: number, s: string): this {
    this.w.uint32((field << 3) | LEN).string(s)
    return this
  }
  bytes(field: number, b: Uint8Array | number[]): this {
    this.w.uint32((field << 3) | LEN).bytes(Uint8Array.from(b))
    return this
  }
  varint(field: number, n: number): this {
    this.w.uint32((field << 3) | VARINT).uint32(n)
    return this
  }
  sub(field: number, build: (m: Fields) => void): this {
    return this.bytes(field, msg(build))
  }
  /** proto3 packs repeated scalars into one length-delimited field. */
  packed(field: number, ns: number[]): this {
    this.w.uint32((field << 3) | LEN).fork()
    for (const n of ns) this.w.uint32(n)
    this.w.ldelim()
    return this
  }
}

// Address { Workload workload = 1 } with every field the reference lists, plus fields of newer
// Istio versions that we do not declare (native_tunnel 14, application_tunnel 23, network_mode 25).
const ISTIO_WORKLOAD = msg((a) =>
  a.sub(1, (w) =>
    w
      .str(20, 'Kubernetes//Pod/shop/checkout-1')
      .str(1, 'checkout-1')
      .str(2, 'shop')
      .bytes(3, [10, 244, 1, 7])
      .bytes(3, [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7])
      .str(21, 'checkout-1.shop.pod')
      .str(4, 'net1')
      .varint(5, 1) // HBONE
      .str(6, 'example.org')
      .str(7, 'checkout')
      .sub(8, (g) => g.sub(1, (h) => h.str(1, 'shop').str(2, 'wp.shop.svc.cluster.local')).varint(3, 15008))
      .sub(19, (g) => g.sub(2, (n) => n.str(1, 'net1').bytes(2, [172, 16, 0, 1])).varint(3, 15009))
      .str(9, 'node-2')
      .str(10, 'checkout')
      .str(11, 'v3')
      .varint(12, 2) // POD
      .str(13, 'checkout')
      .sub(22, (e) =>
        e
          .str(1, 'shop/checkout.shop.svc.cluster.local')
          .sub(2, (pl) => pl.sub(1, (p) => p.varint(1, 80).varint(2, 8080)).sub(1, (p) => p.varint(1, 443))),
      ) // target_port 0 = the Service's
      .str(16, 'shop/allow-frontend')
      .varint(17, 1) // UNHEALTHY
      .str(18, 'Kubernetes')
      .sub(24, (l) => l.str(1, 'eu-west').str(2, 'eu-west-1a'))
      .sub(27, (c) => c.varint(1, 3))
      .varint(14, 1)
      .sub(23, (at) => at.varint(1, 1).varint(2, 15088))
      .varint(25, 1),
  ),
)

const ISTIO_SERVICE = msg((a) =>
  a.sub(2, (s) =>
    s
      .str(1, 'checkout')
      .str(2, 'shop')
      .str(3, 'checkout.shop.svc.cluster.local')
      .sub(4, (n) => n.str(1, '').bytes(2, [10, 96, 0, 10]))
      .sub(5, (p) => p.varint(1, 80).varint(2, 8080).varint(3, 1)) // HTTP11
      .sub(5, (p) => p.varint(1, 9090).varint(3, 3)) // GRPC
      .str(6, 'spiffe://example.org/ns/shop/sa/checkout')
      .sub(7, (g) => g.sub(2, (n) => n.str(1, '').bytes(2, [10, 96, 0, 99])).varint(3, 15008))
      .sub(8, (lb) => lb.packed(1, [2, 1]).varint(2, 1))
      .varint(9, 3) // DUAL
      .sub(10, (ext) => ext.str(1, 'some.extension')),
  ),
)

const ISTIO_POLICY = msg((p) =>
  p
    .str(1, 'allow-frontend')
    .str(2, 'shop')
    .varint(3, 2) // WORKLOAD_SELECTOR
    .varint(4, 1) // DENY
    .sub(5, (r) =>
      r.sub(1, (c) =>
        c.sub(2, (m) =>
          m
            .sub(1, (s) => s.str(1, 'front'))
            .sub(2, (s) => s.str(2, 'kube-'))
            .sub(3, (s) => s.str(3, '/sa/frontend'))
            .sub(4, (s) => s.sub(4, () => undefined)) // presence: google.protobuf.Empty
            .sub(5, (ad) => ad.bytes(1, [10, 0, 0, 0]).varint(2, 8))
            .sub(6, (ad) => ad.bytes(1, [10, 0, 0, 9]).varint(2, 32))
            .sub(7, (ad) => ad.bytes(1, [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).varint(2, 16))
            .sub(8, (ad) => ad.bytes(1, [192, 168, 0, 0]).varint(2, 16))
            .packed(9, [80, 8080])
            .packed(10, [22])
            .sub(11, (sa) => sa.str(1, 'shop').str(2, 'frontend'))
            .sub(12, (sa) => sa.str(1, 'shop').str(2, 'legacy')),
        ),
      ),
    )
    .varint(6, 1),
) // dry_run

t.test("a Workload in Istio's layout decodes to the expected domain value", async (t) => {
  const r = decodeAddress(ISTIO_WORKLOAD)
  t.equal(r.kind, 'workload')
  const w = r.value as Workload
  t.same(w, {
    uid: 'Kubernetes//Pod/shop/checkout-1',
    name: 'checkout-1',
    namespace: 'shop',
    addresses: ['10.244.1.7', 'fd00::7'],
    hostname: 'checkout-1.shop.pod',
    network: 'net1',
    tunnelProtocol: 'HBONE',
    trustDomain: 'example.org',
    serviceAccount: 'checkout',
    waypoint: { kind: 'hostname', namespace: 'shop', hostname: 'wp.shop.svc.cluster.local', hboneMtlsPort: 15008 },
    node: 'node-2',
    canonicalName: 'checkout',
    canonicalRevision: 'v3',
    workloadType: 'POD',
    workloadName: 'checkout',
    services: new Map([
      [
        'shop/checkout.shop.svc.cluster.local',
        [
          { servicePort: 80, targetPort: 8080 },
          { servicePort: 443, targetPort: 0 },
        ],
      ],
    ]),
    authorizationPolicies: ['shop/allow-frontend'],
    status: 'UNHEALTHY',
    clusterId: 'Kubernetes',
    capacity: 3,
  })
})

t.test("a Service in Istio's layout decodes, skipping load balancing and unknown fields", async (t) => {
  const s = decodeAddress(ISTIO_SERVICE).value as Service
  t.same(s, {
    name: 'checkout',
    namespace: 'shop',
    hostname: 'checkout.shop.svc.cluster.local',
    addresses: ['10.96.0.10'],
    ports: [
      { servicePort: 80, targetPort: 8080, appProtocol: 'http' },
      { servicePort: 9090, targetPort: 0, appProtocol: 'grpc' },
    ],
    subjectAltNames: ['spiffe://example.org/ns/shop/sa/checkout'],
    waypoint: { kind: 'address', network: '', address: '10.96.0.99', hboneMtlsPort: 15008 },
  })
})

t.test("an Authorization in Istio's layout decodes with every Match field", async (t) => {
  t.same(decodeAuthorization(ISTIO_POLICY), {
    name: 'allow-frontend',
    namespace: 'shop',
    scope: 'WORKLOAD_SELECTOR',
    action: 'DENY',
    dryRun: true,
    rules: [
      {
        clauses: [
          {
            matches: [
              {
                namespaces: [{ exact: 'front' }],
                notNamespaces: [{ prefix: 'kube-' }],
                principals: [{ suffix: '/sa/frontend' }],
                notPrincipals: [{ presence: true }],
                sourceIps: [{ address: '10.0.0.0', length: 8 }],
                notSourceIps: [{ address: '10.0.0.9', length: 32 }],
                destinationIps: [{ address: 'fd00::', length: 16 }],
                notDestinationIps: [{ address: '192.168.0.0', length: 16 }],
                destinationPorts: [80, 8080],
                notDestinationPorts: [22],
                serviceAccounts: [{ namespace: 'shop', serviceAccount: 'frontend' }],
                notServiceAccounts: [{ namespace: 'shop', serviceAccount: 'legacy' }],
              },
            ],
          },
        ],
      },
    ],
  })
})

/** The field numbers present at the top level of a message, in order of appearance. */
function topLevelFields(bytes: Uint8Array): number[] {
  const r = protobuf.Reader.create(bytes)
  const seen: number[] = []
  while (r.pos < r.len) {
    const tag = r.uint32()
    seen.push(tag >>> 3)
    r.skipType(tag & 7)
  }
  return seen
}

t.test("our encoding uses Istio's field numbers", async (t) => {
  const w = decodeAddress(ISTIO_WORKLOAD).value as Workload
  const address = protobuf.Reader.create(encodeAddress({ kind: 'workload', value: w }))
  t.equal(address.uint32(), (1 << 3) | LEN, 'Address.workload = 1')
  const workloadFields = new Set(topLevelFields(address.bytes()))
  t.same(
    [...workloadFields].sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18, 20, 21, 22, 27],
  )
  const policyFields = new Set(topLevelFields(encodeAuthorization(decodeAuthorization(ISTIO_POLICY))))
  t.same(
    [...policyFields].sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6],
  )
})
