// A bench's own paths measured by `runCompare` (compare.ts) in the same interleaved rounds, at the same
// rates, with the same open-loop load generator as the modes (after them in each round): e.g.
// `bench:waypoint`'s reference L7 hop. A path is started once the clusters are up, towards the app
// the no-mesh mode reaches; its processes are pinned with the mesh's, their idle RSS read like the
// proxies', and they are sampled over each steady window.
import type { ProcessWindow } from './compare-summary.js'
import type { OpenLoopResult } from './open-loop.js'
import type { Route } from './ztunnel-http.js'

export interface ExtraPathContext {
  /** A directory for the path's files (removed with the run). */
  dir: string
  /** The app the no-mesh mode reaches straight (its pod-local address). */
  app: { host: string; port: number }
  log: (line: string) => void
  /** The run's extra Node flags for proxies (CompareOptions.proxyNodeFlags). */
  proxyNodeFlags: readonly string[]
}

export interface StartedExtraPath {
  /** Where the load generator connects. */
  route: Route
  /** The path's processes, sampled (CPU, RSS) over every window. */
  processes: { role: string; name: string; pid: number }[]
  close(): Promise<void>
}

export interface ExtraPath {
  /** Stable key in results (e.g. 'reference-l7'). */
  name: string
  /** For progress lines. */
  label: string
  /** What the path is, for the header's method lines. */
  method: string
  start(ctx: ExtraPathContext): Promise<StartedExtraPath>
}

export interface ExtraRun {
  round: number
  rate: number
  path: string
  result: OpenLoopResult
  processes: ProcessWindow[]
}
