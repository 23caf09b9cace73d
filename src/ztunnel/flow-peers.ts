// Maps mesh objects to the plain peer descriptions observability records (observability does not
// know src/mesh). Istio's `app`/`version` labels come from pod labels; our Workload carries the
// canonical name/revision istiod derived from those labels, so they stand in for both.
import type { FlowPeer } from '../observability/flow-record.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import type { Service, Workload } from '../mesh/types.js'
import { workloadIdentity } from './workload-identity.js'

export function workloadPeer(
  addr: string,
  workload: Workload | undefined,
  options: { service?: Service | undefined; identity?: SpiffeId | undefined } = {},
): FlowPeer {
  const peer: FlowPeer = { addr }
  if (workload !== undefined) {
    peer.workload = workload.workloadName || workload.name
    peer.namespace = workload.namespace
    if (workload.canonicalName) peer.canonicalService = peer.app = workload.canonicalName
    if (workload.canonicalRevision) peer.canonicalRevision = peer.version = workload.canonicalRevision
    if (workload.clusterId) peer.cluster = workload.clusterId
    const id = options.identity ?? workloadIdentity(workload)
    if (id !== undefined) peer.identity = id
  } else if (options.identity !== undefined) {
    peer.identity = options.identity
    peer.namespace = options.identity.namespace
  }
  if (options.service !== undefined) {
    peer.service = { name: options.service.name, namespace: options.service.namespace, hostname: options.service.hostname }
  }
  return peer
}
