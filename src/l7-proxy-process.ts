// Node flags and environment for an L7 proxy process, a waypoint or a sidecar (the same L7 engine,
// so the same care: `ambient compare` sets one against the other), passed where it is spawned (the
// cluster runner in every capture mode, and the Deployment istiod makes for a waypoint in
// Kubernetes): the HBONE process flags (./hbone/settings.ts), two that keep V8's garbage collector
// and optimizing compiler on the main thread, and a bound on glibc's malloc arenas. The figures
// below were measured on the waypoint.
//
// - `--single-threaded-gc`: V8 scavenges the 2 MiB young generation on the main thread alone instead
//   of waking its helper threads for each of the ~27 scavenges per second at 1000 RPS. Measured with
//   scripts/waypoint-ab.mjs (the same build twice, requests alternating, load 6-9), B with the flag
//   ÷ A without: CPU per request 0.970-0.990 in 8 of 8 runs (8 tunnels, pinned to one CPU or not;
//   one tunnel: 0.985, 0.985); scavenge pauses shorter, not longer (pinned: median 1.02 → 0.35 ms,
//   p90 3.74 → 1.34 ms; unpinned: 1.48 → 0.40 ms, p90 8.68 → 1.94 ms), since the helpers mostly
//   waited for a CPU; RSS within noise (±3 MB).
// - `--no-concurrent-recompilation`: V8's optimizing compiler (TurboFan) runs on the main thread, one
//   function at a time, instead of in jobs on V8's worker threads. Each job's scratch memory (its
//   zones, MBs for a large function) comes from malloc; with several jobs at once during warm-up the
//   brk heap peaks at ~12 MB (heaptrack) and, fragmented, is not given back. Same build A/B
//   (scripts/waypoint-ab.mjs with MALLOC_ARENA_MAX=1 and --single-threaded-gc on both, 16000
//   requests, 5 runs, load 8-15): brk heap under load 5.6-5.9 MiB with the flag in 5 of 5 runs
//   against 6.2-12.5 without; mean RSS B − A -0.7 to -7.1 MB (mean -3.5) against A/A -2.3 to +2.7
//   (mean -0.8, 6 runs); CPU per request B/A 0.952-1.008 (mean 0.971), A/A 0.991-1.037. The
//   compilations cost the same CPU on the main thread; they happen mostly during warm-up
//   (docs/proxy-profile.md, "waypoint memory: the optimizing compiler's malloc").
import { HBONE_PROCESS_NODE_FLAGS } from './hbone/settings.js'

export const L7_PROXY_NODE_FLAGS: readonly string[] = Object.freeze([
  ...HBONE_PROCESS_NODE_FLAGS,
  '--single-threaded-gc',
  '--no-concurrent-recompilation',
])

/**
 * - `MALLOC_ARENA_MAX=1`: glibc gives threads that allocate their own malloc arenas (up to 8 per
 *   core); the waypoint's main thread does nearly all the work, its helpers (libuv, V8's compiler)
 *   little, so one arena (the brk heap) serves them all. Same build A/B (scripts/waypoint-ab.mjs,
 *   B with it, 8 tunnels, load 8-12): 2 arenas against glibc's default, RSS under load 1.1-7.9 MB
 *   lower in 5 of 5 runs (median 2.3), CPU per request 0.979-1.010. 1 against 2 (20000 requests,
 *   A/A runs interleaved, load 4-12): the second arena held 0.9-7.1 MiB; malloc in all (brk heap +
 *   arenas) under load mean 8.6 MiB with one arena (6 waypoints) against 10.4 with two (18); mean
 *   RSS B − A -3.1 MB against -0.4 A/A (6 runs each); CPU per request B/A 0.966-1.012 (12 runs), A/A
 *   0.982-1.046 (docs/proxy-profile.md, "waypoint memory under load").
 *   An explicitly set MALLOC_ARENA_MAX in the runner's environment wins.
 */
export const L7_PROXY_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: '1' })
