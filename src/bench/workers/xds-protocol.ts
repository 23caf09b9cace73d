// Messages between `bench:xds` (the Delta ADS server's process) and its ztunnel-client processes, over
// Node's IPC channel. A client process holds several Delta ADS clients, each applying into its own
// MeshState as ztunnel does, and reports with its own clock (performance.timeOrigin + now(), ms):
//
//   parent → worker { type: 'start', config }   once; the worker answers 'ready'
//   parent → worker { type: 'connect' }         fresh clients and states; each reports 'synced' once
//   parent → worker { type: 'disconnect' }      closes every client; answers 'disconnected'
//   parent → worker { type: 'clock', id, t }    answers with its own time (offset estimation)
//   parent → worker { type: 'stats' }           answers 'stats'
//   worker → parent { type: 'applied', … }      after every batch applied once the client is synced
//
// The worker exits when the channel closes, so a crashed benchmark leaves no client behind.

export interface XdsClientSpec {
  /** 0-based ztunnel index across all worker processes. */
  readonly index: number
  readonly nodeId: string
  readonly token: string
}

export interface XdsWorkerConfig {
  readonly target: string
  readonly rootCertPem: string
  readonly serverIdentity: string
  readonly clients: readonly XdsClientSpec[]
  /** At most this many (name, version) pairs per 'applied' report (larger batches report counts). */
  readonly reportNamesMax: number
  /** apply: decode and apply into a MeshState (ztunnel-like); ack: count what arrives and ACK (the server and the wire alone). */
  readonly work: XdsClientWork
}

export type XdsClientWork = 'apply' | 'ack'

export type XdsKind = 'address' | 'authorization'

export interface XdsClientReport {
  readonly index: number
  readonly workloads: number
  readonly services: number
  readonly policies: number
  readonly resources: number
  readonly bytes: number
  readonly acks: number
  readonly nacks: number
  readonly connects: number
  readonly lastError: string | undefined
}

export type XdsParentMessage =
  | { type: 'start'; config: XdsWorkerConfig }
  | { type: 'connect' }
  | { type: 'disconnect' }
  | { type: 'clock'; id: number; t: number }
  | { type: 'stats' }

export type XdsWorkerMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'synced'; index: number; at: number; workloads: number; services: number; policies: number; bytes: number }
  | {
      type: 'applied'
      index: number
      kind: XdsKind
      /** When the batch was in MeshState (the worker's clock). */
      at: number
      upserts: number
      removals: number
      /** (name, version) of the upserts, when there are at most reportNamesMax of them. */
      names: [string, string][]
      /** The client's cumulative received resource bytes (DeltaAdsClient.stats().bytes). */
      bytes: number
      /** Time spent in MeshState.apply for this batch. */
      applyMs: number
    }
  | { type: 'disconnected' }
  | { type: 'clock'; id: number; t: number; tc: number }
  | { type: 'stats'; clients: XdsClientReport[] }
  | { type: 'error'; message: string }
