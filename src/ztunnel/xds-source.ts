// ztunnel's second config source: istiod's Delta ADS (Address and Authorization), applied to
// MeshState as it arrives, so the data path never knows where config came from.
//
// Invariants:
//  - each response is one MeshState.apply() (atomic); if the state refuses it, the response is
//    NACKed with the reason and nothing of it is kept (the client then does not record versions);
//  - an Address removal carries only its name, so the kind (workload or service) of every name we
//    hold is remembered from its upsert;
//  - losing istiod changes nothing: the last state is served until a reconnect resyncs by
//    difference (the client reports what it holds as initial_resource_versions).
import type { Authorization } from '../authz/policy.js'
import { AmbientError, errorMessage } from '../errors.js'
import type { MeshChange } from '../mesh/change.js'
import type { MeshState } from '../mesh/state.js'
import { childLogger } from '../observability/logger.js'
import { ADDRESS_DECODER, AUTHORIZATION_DECODER, type AddressResource } from '../xds/convert.js'
import {
  createDeltaAdsClient,
  deltaConnection,
  type DeltaAdsClient,
  type DeltaBatch,
  type DeltaClientStats,
  type DeltaConnectionOptions,
} from '../xds/delta-client.js'

/** istiod and the connection (`nodeId`: the node name), and the mesh state the updates go to. */
export interface XdsSourceOptions extends DeltaConnectionOptions {
  readonly mesh: Pick<MeshState, 'apply'>
}

export interface XdsSourceStatus {
  readonly source: 'xds'
  readonly target: string
  readonly state: DeltaAdsClient['state']
  readonly synced: boolean
  readonly lastError: string | undefined
  readonly stats: DeltaClientStats
}

export interface XdsSource {
  /** Connects; resolves once every type has been received once (or rejects after `timeoutMs`). */
  start(options?: { readonly timeoutMs?: number }): Promise<void>
  readonly synced: boolean
  status(): XdsSourceStatus
  close(): Promise<void>
}

export const XdsSourceErrorCode = {
  syncTimeout: 'ZTUNNEL_XDS_SYNC_TIMEOUT',
} as const

type Types = { address: AddressResource; authorization: Authorization }

export function createXdsSource(options: XdsSourceOptions): XdsSource {
  const log = childLogger(options.logger, 'xds')
  /** Address resource name → what it is, for removals. */
  const addressKinds = new Map<string, 'workload' | 'service'>()
  const received = new Set<keyof Types>()
  let onSynced: (() => void) | undefined

  const handler = (batch: DeltaBatch<Types>): Error | undefined => {
    const changes: MeshChange[] = []
    const kinds = new Map<string, 'workload' | 'service' | undefined>()
    if (batch.kind === 'address') {
      for (const name of batch.removals) {
        const kind = addressKinds.get(name)
        if (kind !== undefined) changes.push({ op: 'remove', kind, key: name })
        kinds.set(name, undefined)
      }
      for (const u of batch.upserts) {
        const r = u.value
        // A name that changes kind (workload ↔ service) is removed as the old kind first.
        const before = addressKinds.get(u.name)
        if (before !== undefined && before !== r.kind) changes.push({ op: 'remove', kind: before, key: u.name })
        changes.push(
          r.kind === 'workload' ? { op: 'upsert', kind: 'workload', value: r.value } : { op: 'upsert', kind: 'service', value: r.value },
        )
        kinds.set(u.name, r.kind)
      }
    } else {
      for (const name of batch.removals) changes.push({ op: 'remove', kind: 'policy', key: name })
      for (const u of batch.upserts) changes.push({ op: 'upsert', kind: 'policy', value: u.value })
    }
    try {
      if (changes.length > 0) options.mesh.apply(changes)
    } catch (err) {
      return new Error(`mesh state refused the update: ${errorMessage(err)}`)
    }
    for (const [name, kind] of kinds) {
      if (kind === undefined) addressKinds.delete(name)
      else addressKinds.set(name, kind)
    }
    log.debug({ event: 'xds_applied', kind: batch.kind, upserts: batch.upserts.length, removals: batch.removals.length }, 'applied')
    if (!received.has(batch.kind)) {
      received.add(batch.kind)
      if (received.size === 2) {
        log.info({ event: 'xds_synced', target: options.target, addresses: addressKinds.size }, 'initial state received from istiod')
        onSynced?.()
      }
    }
    return undefined
  }

  const client = createDeltaAdsClient<Types>({
    ...deltaConnection(options),
    types: {
      address: ADDRESS_DECODER,
      authorization: AUTHORIZATION_DECODER,
    },
    handler,
  })
  const synced = (): boolean => received.size === 2

  return {
    start({ timeoutMs } = {}) {
      const ready = new Promise<void>((resolve, reject) => {
        if (synced()) return resolve()
        let timer: NodeJS.Timeout | undefined
        onSynced = () => {
          clearTimeout(timer)
          resolve()
        }
        if (timeoutMs !== undefined) {
          timer = setTimeout(
            () =>
              reject(
                new AmbientError(
                  XdsSourceErrorCode.syncTimeout,
                  `no state from istiod at ${options.target} after ${timeoutMs} ` +
                    `ms${client.lastError === undefined ? '' : ` (last error: ${client.lastError})`}`,
                  { side: 'upstream' },
                ),
              ),
            timeoutMs,
          )
          timer.unref()
        }
      })
      client.start()
      return ready
    },
    get synced() {
      return synced()
    },
    status: () => ({
      source: 'xds',
      target: options.target,
      state: client.state,
      synced: synced(),
      lastError: client.lastError,
      stats: client.stats(),
    }),
    close: () => client.close(),
  }
}
