// Istio's HTTP metadata exchange between sidecars, on the wire: the calling sidecar adds
// `x-envoy-peer-metadata-id` (its node id) and `x-envoy-peer-metadata` (a base64 serialized
// google.protobuf.Struct of its node metadata: NAME, NAMESPACE, WORKLOAD_NAME, CLUSTER_ID, LABELS …)
// to each request; the receiving sidecar reads them for its telemetry's source_* labels and removes
// them before the app sees the request. Decoding never throws: a header that is not base64 or not a
// Struct is ignored (the labels stay "unknown"), as Envoy ignores it.
import { google } from './gen/messages.js'

export const PEER_METADATA_HEADER = 'x-envoy-peer-metadata'
export const PEER_METADATA_ID_HEADER = 'x-envoy-peer-metadata-id'

/** Header values are bounded; a larger value is not metadata we wrote and is not decoded. */
const MAX_ENCODED_BYTES = 16 * 1024

export interface PeerMetadata {
  /** The pod's name. */
  readonly name?: string
  readonly namespace?: string
  /** The workload (a Deployment's name, or the bare pod's). */
  readonly workloadName?: string
  readonly clusterId?: string
  /** Pod labels; Istio sends at least app, version and the canonical service labels. */
  readonly labels: Readonly<Record<string, string>>
}

type Value = google.protobuf.IValue

const str = (v: string): Value => ({ stringValue: v })

export function encodePeerMetadata(m: PeerMetadata): string {
  const fields: Record<string, Value> = {}
  if (m.name !== undefined) fields.NAME = str(m.name)
  if (m.namespace !== undefined) fields.NAMESPACE = str(m.namespace)
  if (m.workloadName !== undefined) fields.WORKLOAD_NAME = str(m.workloadName)
  if (m.clusterId !== undefined) fields.CLUSTER_ID = str(m.clusterId)
  fields.LABELS = { structValue: { fields: Object.fromEntries(Object.entries(m.labels).map(([k, v]) => [k, str(v)])) } }
  return Buffer.from(google.protobuf.Struct.encode({ fields }).finish()).toString('base64')
}

/** The metadata in a header value, or undefined when it is not a base64 Struct. */
export function decodePeerMetadata(value: string | undefined): PeerMetadata | undefined {
  if (value === undefined || value === '' || value.length > MAX_ENCODED_BYTES) return undefined
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined
  let fields: Record<string, Value>
  try {
    fields = google.protobuf.Struct.decode(Buffer.from(value, 'base64')).fields ?? {}
  } catch {
    return undefined
  }
  const text = (key: string): string | undefined => {
    const v = fields[key]?.stringValue
    return typeof v === 'string' && v !== '' ? v : undefined
  }
  const labels: Record<string, string> = {}
  for (const [k, v] of Object.entries(fields.LABELS?.structValue?.fields ?? {}))
    if (typeof v.stringValue === 'string') labels[k] = v.stringValue
  const name = text('NAME')
  const namespace = text('NAMESPACE')
  const workloadName = text('WORKLOAD_NAME')
  const clusterId = text('CLUSTER_ID')
  if (name === undefined && namespace === undefined && workloadName === undefined && Object.keys(labels).length === 0) return undefined
  return {
    ...(name === undefined ? {} : { name }),
    ...(namespace === undefined ? {} : { namespace }),
    ...(workloadName === undefined ? {} : { workloadName }),
    ...(clusterId === undefined ? {} : { clusterId }),
    labels,
  }
}

/** Istio's node id for a sidecar: `sidecar~<pod IP>~<pod>.<namespace>~<namespace>.svc.cluster.local`. */
export function sidecarNodeId(podIp: string, pod: string, namespace: string): string {
  return `sidecar~${podIp}~${pod}.${namespace}~${namespace}.svc.cluster.local`
}
