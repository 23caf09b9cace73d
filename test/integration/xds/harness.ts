// An istiod-side Delta ADS server over real TLS on 127.0.0.1 (port 0) with mutable providers, and
// ztunnel-side clients that record what they hold, for the xDS integration tests.
import type { Authorization } from '../../../src/authz/policy.js'
import type { Workload } from '../../../src/mesh/types.js'
import { decodeAddress, decodeAuthorization, encodeAddress, encodeAuthorization, TYPE_URL } from '../../../src/xds/convert.js'
import type { AddressResource } from '../../../src/xds/convert.js'
import { createDeltaAdsClient } from '../../../src/xds/delta-client.js'
import type { DeltaAdsClient, DeltaBatch } from '../../../src/xds/delta-client.js'
import { createDeltaAdsServer } from '../../../src/xds/delta-server.js'
import type { DeltaAdsMetrics, DeltaAdsServer } from '../../../src/xds/delta-server.js'
import { startGrpcServer } from '../../../src/xds/grpc-server.js'
import type { GrpcServer, GrpcServiceBinding } from '../../../src/xds/grpc-server.js'
import { versioned } from '../../../src/xds/resource-provider.js'
import type { ResourceProvider, VersionedResource } from '../../../src/xds/resource-provider.js'
import type { TestPki } from '../../helpers/pki.js'

export const ISTIOD_ID = 'spiffe://cluster.local/ns/istio-system/sa/istiod'
export const TOKENS: Record<string, string> = { 'token-node1': 'node1', 'token-node2': 'node2' }

/** A provider over a map the test mutates; same content → same version. */
export class MapProvider implements ResourceProvider {
  readonly items = new Map<string, VersionedResource>()
  calls = 0
  constructor(readonly typeUrl: string) {}
  resources(): ReadonlyMap<string, VersionedResource> {
    this.calls++
    return this.items
  }
  set(name: string, bytes: Uint8Array): void {
    this.items.set(name, versioned(bytes))
  }
}

export class CountingMetrics implements DeltaAdsMetrics {
  pushes = 0
  acks = 0
  nacks = 0
  connected = 0
  latencies: number[] = []
  pushed(): void {
    this.pushes++
  }
  acked(e: { latencyMs: number }): void {
    this.acks++
    this.latencies.push(e.latencyMs)
  }
  nacked(): void {
    this.nacks++
  }
  connectedProxies(n: number): void {
    this.connected = n
  }
}

export interface Istiod {
  readonly ads: DeltaAdsServer
  readonly grpc: GrpcServer
  readonly addresses: MapProvider
  readonly policies: MapProvider
  readonly metrics: CountingMetrics
  setWorkload(w: Workload): void
  setPolicy(p: Authorization): void
  close(): Promise<void>
}

export async function startIstiod(
  pki: TestPki,
  opts: {
    port?: number
    addresses?: MapProvider
    policies?: MapProvider
    extra?: GrpcServiceBinding[]
    maxReceiveMessageBytes?: number
  } = {},
): Promise<Istiod> {
  const cert = await pki.issue(ISTIOD_ID)
  const addresses = opts.addresses ?? new MapProvider(TYPE_URL.address)
  const policies = opts.policies ?? new MapProvider(TYPE_URL.authorization)
  const metrics = new CountingMetrics()
  const ads = createDeltaAdsServer({ providers: [addresses, policies], authenticate: (t) => TOKENS[t], metrics })
  const grpc = await startGrpcServer({
    port: opts.port ?? 0,
    tls: { rootCertPem: pki.rootPem, certChainPem: cert.certChainPem.join(''), keyPem: cert.keyPem },
    services: [ads.service, ...(opts.extra ?? [])],
    shutdownGraceMs: 200,
    ...(opts.maxReceiveMessageBytes === undefined ? {} : { maxReceiveMessageBytes: opts.maxReceiveMessageBytes }),
  })
  return {
    ads,
    grpc,
    addresses,
    policies,
    metrics,
    setWorkload: (w) => addresses.set(w.uid, encodeAddress({ kind: 'workload', value: w })),
    setPolicy: (p) => policies.set(`${p.namespace}/${p.name}`, encodeAuthorization(p)),
    close: () => grpc.close(),
  }
}

export type MeshTypes = { address: AddressResource; authorization: Authorization }

/** A ztunnel-like client holding what it accepted; `reject` makes its handler NACK. */
export interface Ztunnel {
  readonly client: DeltaAdsClient
  readonly addresses: Map<string, AddressResource>
  readonly policies: Map<string, Authorization>
  readonly batches: DeltaBatch<MeshTypes>[]
  reject: ((batch: DeltaBatch<MeshTypes>) => string | undefined) | undefined
}

export function connectZtunnel(pki: TestPki, target: string, token: string, nodeId: string): Ztunnel {
  const z: Ztunnel = {
    addresses: new Map(),
    policies: new Map(),
    batches: [],
    reject: undefined,
    client: undefined as unknown as DeltaAdsClient,
  }
  const client = createDeltaAdsClient<MeshTypes>({
    target,
    tls: { rootCertPem: pki.rootPem, serverIdentity: ISTIOD_ID },
    token,
    nodeId,
    nodeMetadata: { NAME: nodeId },
    types: {
      address: { typeUrl: TYPE_URL.address, decode: decodeAddress },
      authorization: { typeUrl: TYPE_URL.authorization, decode: decodeAuthorization },
    },
    backoff: { initialMs: 10, maxMs: 100 },
    handler: (batch) => {
      const reason = z.reject?.(batch)
      if (reason !== undefined) return new Error(reason)
      z.batches.push(batch)
      if (batch.kind === 'address') {
        for (const u of batch.upserts) z.addresses.set(u.name, u.value)
        for (const n of batch.removals) z.addresses.delete(n)
      } else {
        for (const u of batch.upserts) z.policies.set(u.name, u.value)
        for (const n of batch.removals) z.policies.delete(n)
      }
      return undefined
    },
  })
  ;(z as { client: DeltaAdsClient }).client = client
  client.start()
  return z
}
