// Where a waypoint's config comes from: a JSON file (standalone runs, tests), or istiod's Delta xDS
// (`ambient.waypoint.v1.WaypointConfig`, ./xds-config-source.ts), both WaypointConfigSources with the
// same contract: call `onConfig` with each validated config, never with a config that failed validation
// (keep serving the last good one and report the error).
import { readFile } from 'node:fs/promises'
import { AmbientError, errorMessage } from '../errors.js'
import type { WaypointConfig } from '../mesh/waypoint-config.js'
import { L7ErrorCode } from '../l7/errors.js'
import { parseWaypointConfig } from '../l7/waypoint-config.js'

export interface WaypointConfigSource {
  /** Starts delivering configs; resolves once the first one was delivered (or rejects with why not). */
  start(onConfig: (config: WaypointConfig) => void): Promise<void>
  close(): Promise<void>
}

/** One read of a WaypointConfig JSON file. */
export function fileConfigSource(path: string): WaypointConfigSource {
  return {
    async start(onConfig) {
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (err) {
        throw new AmbientError(L7ErrorCode.configInvalid, `cannot read waypoint config ${path}: ${errorMessage(err)}`, {
          side: 'config',
          cause: err,
        })
      }
      onConfig(parseWaypointConfig(text, path))
    },
    async close() {},
  }
}
