// A `bench:xds` client process: several ztunnel-like Delta ADS clients (TLS to the server, bearer
// token, wildcard Address and Authorization subscriptions). Each decodes its batches and applies them
// into its own MeshState, as ztunnel's xDS handler does, and only then returns (so the ACK follows the
// apply); it tells the parent when it is synced and when it applied a batch afterwards.
import { MeshState } from '../../mesh/state.js'
import type { MeshChange } from '../../mesh/change.js'
import { ADDRESS_DECODER, AUTHORIZATION_DECODER, TYPE_URL } from '../../xds/convert.js'
import type { AddressResource } from '../../xds/convert.js'
import type { Authorization } from '../../authz/policy.js'
import { createDeltaAdsClient } from '../../xds/delta-client.js'
import type { DeltaAdsClient, DeltaBatch } from '../../xds/delta-client.js'
import { epochNow as wallNow } from '../../clock.js'
import type { XdsClientReport, XdsClientSpec, XdsKind, XdsParentMessage, XdsWorkerConfig, XdsWorkerMessage } from './xds-protocol.js'

type Types = { address: AddressResource; authorization: Authorization }
/** --client-work ack: an Address is only told apart as workload or service (its oneof tag); nothing else is decoded. */
type CountedTypes = { address: 'workload' | 'service'; authorization: null }
/** What the client decodes into, either way (the Held of the run knows which). */
type AnyTypes = { address: AddressResource | 'workload' | 'service'; authorization: Authorization | null }

/** What a client holds: counts per kind, and how a batch gets in. */
interface Held {
  apply(batch: DeltaBatch<AnyTypes>): void
  counts(): { workloads: number; services: number; policies: number }
}

interface Ztunnel {
  readonly spec: XdsClientSpec
  readonly client: DeltaAdsClient
  readonly held: Held
}

/** ztunnel-like: every batch decoded into domain values and applied into a MeshState. */
function meshHeld(): Held {
  const state = new MeshState()
  return {
    apply: (batch) => state.apply(toChanges(batch as DeltaBatch<Types>, state)),
    counts: () => ({ workloads: state.workloads().length, services: state.services().length, policies: state.policies().length }),
  }
}

/** The server and the wire alone: names counted per kind, nothing decoded or applied. */
function countingHeld(): Held {
  const addresses = new Map<string, 'workload' | 'service'>()
  const policies = new Set<string>()
  return {
    apply(batch) {
      const b = batch as DeltaBatch<CountedTypes>
      if (b.kind === 'address') {
        for (const n of b.removals) addresses.delete(n)
        for (const u of b.upserts) addresses.set(u.name, u.value)
      } else {
        for (const n of b.removals) policies.delete(n)
        for (const u of b.upserts) policies.add(u.name)
      }
    },
    counts() {
      let workloads = 0
      for (const k of addresses.values()) if (k === 'workload') workloads++
      return { workloads, services: addresses.size - workloads, policies: policies.size }
    },
  }
}

/** istio.workload.Address's oneof: field 1 (workload) or 2 (service), both length-delimited. */
const ADDRESS_WORKLOAD_TAG = (1 << 3) | 2
const addressKindAt = (bytes: Uint8Array, start: number): 'workload' | 'service' =>
  bytes[start] === ADDRESS_WORKLOAD_TAG ? 'workload' : 'service'
const addressKind = (bytes: Uint8Array): 'workload' | 'service' => addressKindAt(bytes, 0)

const send = (msg: XdsWorkerMessage): void => {
  // The parent may be gone (a failed run): a late report is dropped, not an EPIPE crash.
  if (process.connected) process.send?.(msg)
}

let config: XdsWorkerConfig | undefined
let ztunnels: Ztunnel[] = []

function toChanges(batch: DeltaBatch<Types>, state: MeshState): MeshChange[] {
  const changes: MeshChange[] = []
  if (batch.kind === 'address') {
    for (const n of batch.removals) changes.push({ op: 'remove', kind: state.workloadByUid(n) ? 'workload' : 'service', key: n })
    for (const u of batch.upserts) {
      changes.push(
        u.value.kind === 'workload'
          ? { op: 'upsert', kind: 'workload', value: u.value.value }
          : { op: 'upsert', kind: 'service', value: u.value.value },
      )
    }
  } else {
    for (const n of batch.removals) changes.push({ op: 'remove', kind: 'policy', key: n })
    for (const u of batch.upserts) changes.push({ op: 'upsert', kind: 'policy', value: u.value })
  }
  return changes
}

function connect(cfg: XdsWorkerConfig): void {
  ztunnels = cfg.clients.map((spec) => {
    const held = cfg.work === 'apply' ? meshHeld() : countingHeld()
    const seen = new Set<XdsKind>()
    let synced = false
    // The handler runs before the client is assigned; it only reads `z` once a response arrives.
    const z: { client?: DeltaAdsClient } = {}
    const client = createDeltaAdsClient<AnyTypes>({
      target: cfg.target,
      tls: { rootCertPem: cfg.rootCertPem, serverIdentity: cfg.serverIdentity },
      token: spec.token,
      nodeId: spec.nodeId,
      nodeMetadata: { NAME: spec.nodeId },
      types:
        cfg.work === 'apply'
          ? {
              address: ADDRESS_DECODER,
              authorization: AUTHORIZATION_DECODER,
            }
          : {
              address: {
                typeUrl: TYPE_URL.address,
                decode: addressKind,
                decodeIn: (b: Uint8Array, start: number) => addressKindAt(b, start),
              },
              authorization: { typeUrl: TYPE_URL.authorization, decode: () => null },
            },
      backoff: { initialMs: 50, maxMs: 500 },
      handler: (batch) => {
        const started = performance.now()
        held.apply(batch)
        const applyMs = performance.now() - started
        const at = wallNow()
        const bytes = z.client?.stats().bytes ?? 0
        if (!synced) {
          seen.add(batch.kind)
          if (seen.size === 2) {
            synced = true
            send({
              type: 'synced',
              index: spec.index,
              at,
              ...held.counts(),
              bytes,
            })
          }
          return undefined
        }
        const names: [string, string][] = batch.upserts.length <= cfg.reportNamesMax ? batch.upserts.map((u) => [u.name, u.version]) : []
        send({
          type: 'applied',
          index: spec.index,
          kind: batch.kind,
          at,
          upserts: batch.upserts.length,
          removals: batch.removals.length,
          names,
          bytes,
          applyMs,
        })
        return undefined
      },
    })
    z.client = client
    return { spec, client, held }
  })
  for (const z of ztunnels) z.client.start()
}

async function disconnect(): Promise<void> {
  const old = ztunnels
  ztunnels = []
  await Promise.all(old.map((z) => z.client.close()))
}

function report(z: Ztunnel): XdsClientReport {
  const s = z.client.stats()
  return {
    index: z.spec.index,
    ...z.held.counts(),
    resources: s.resources,
    bytes: s.bytes,
    acks: s.acks,
    nacks: s.nacks,
    connects: s.connects,
    lastError: z.client.lastError,
  }
}

process.on('message', (msg: XdsParentMessage) => {
  try {
    switch (msg.type) {
      case 'start':
        config = msg.config
        return send({ type: 'ready' })
      case 'connect':
        if (!config) return send({ type: 'error', message: 'connect before start' })
        if (ztunnels.length > 0) return send({ type: 'error', message: 'already connected' })
        return connect(config)
      case 'disconnect':
        return void disconnect().then(
          () => send({ type: 'disconnected' }),
          (err: unknown) => send({ type: 'error', message: String(err) }),
        )
      case 'clock':
        return send({ type: 'clock', id: msg.id, t: msg.t, tc: wallNow() })
      case 'stats':
        return send({ type: 'stats', clients: ztunnels.map(report) })
    }
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) })
  }
})
process.on('disconnect', () => {
  void disconnect().finally(() => process.exit(0))
  setTimeout(() => process.exit(0), 1000).unref()
})
if (!process.send) {
  process.stderr.write('xds-clients must be started with an IPC channel\n')
  process.exit(2)
}
