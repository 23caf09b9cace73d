// HTTP/2 tuning shared by both ends of an HBONE tunnel (Istio's values, see ambient-reference.md).
// Node's defaults (64 KiB windows) halve tunnel throughput; both windows must be raised together, and
// the inbound memory bound is streams × stream window, hence the stream cap.
import type { Settings } from 'node:http2'

const MiB = 1024 * 1024

export const HBONE_PORT = 15008

export interface HboneTuning {
  /** Per-stream flow-control window (SETTINGS_INITIAL_WINDOW_SIZE). Istio: 4 MiB. */
  readonly streamWindowBytes: number
  /** Connection window, set with session.setLocalWindowSize(). Istio: 16 MiB. */
  readonly connectionWindowBytes: number
  /** SETTINGS_MAX_FRAME_SIZE. Istio: 1 MiB (HTTP/2 default is 16 KiB). */
  readonly maxFrameBytes: number
  /** SETTINGS_MAX_CONCURRENT_STREAMS we accept; also the pool's per-connection cap. Istio: 100. */
  readonly maxConcurrentStreams: number
  /**
   * node:http2 maxSessionMemory, in MB (default 10). It counts queued outbound data and header
   * state; a session over it refuses new streams with ENHANCE_YOUR_CALM.
   */
  readonly maxSessionMemoryMb: number
}

export const DEFAULT_TUNING: HboneTuning = Object.freeze({
  streamWindowBytes: 4 * MiB,
  connectionWindowBytes: 16 * MiB,
  maxFrameBytes: 1 * MiB,
  maxConcurrentStreams: 100,
  maxSessionMemoryMb: 64,
})

/** PING every 10 s; drop the connection when a PING is not answered within 20 s (ztunnel's values). */
export const DEFAULT_KEEPALIVE = Object.freeze({ intervalMs: 10_000, timeoutMs: 20_000 })

/** Pooled connections with no stream are closed after 5 minutes (ztunnel's pool idle timeout). */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000

/** TCP + TLS must complete within this (a peer that sends nothing, or garbage, is dropped). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

export function h2Settings(tuning: HboneTuning): Settings {
  return {
    enablePush: false,
    initialWindowSize: tuning.streamWindowBytes,
    maxFrameSize: tuning.maxFrameBytes,
    maxConcurrentStreams: tuning.maxConcurrentStreams,
  }
}
