// HTTP/2 tuning shared by both ends of an HBONE tunnel (Istio's values, see docs/istio-reference.md).
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

/**
 * Node flags for a process that carries HBONE tunnels (`ambient ztunnel`, waypoints, the bench
 * proxies), to be passed where the process is spawned (`node --max-semi-space-size=2 …`, fork's
 * execArgv, or NODE_OPTIONS): V8 sizes its heap at start-up, so a running process cannot change it.
 *
 * - `--max-semi-space-size=2` (MiB): V8's young generation is sized for throughput by default (up to
 *   16 MiB per semi-space on 64-bit), and under tunnel churn that is most of the growth over idle.
 *   Measured, 6000 tunnels at ~2500/s on this 2-core machine: mean RSS client proxy 111-115 → 89-93
 *   MB, server 102-112 → 82-84 MB; CPU per tunnel unchanged within noise (1 MiB saved ~1 MB more).
 * - `--no-deprecation`: on Node 20 each ClientHttp2Session.request() wraps DEP0172 accessors with
 *   util.deprecate (~7 % of the client proxy's busy CPU under churn) unless deprecations are off.
 *   It only silences deprecation warnings; an entry point may set `process.noDeprecation = true`
 *   instead (the bench's HBONE client proxy does).
 */
export const HBONE_PROCESS_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=2', '--no-deprecation'])
