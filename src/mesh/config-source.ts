// Config sources feed MeshState. ztunnel has two: a local file (LOCAL_XDS_PATH) and istiod's Delta
// xDS; both end in the same state mutator, so the data path never knows where config came from.
// This file holds the small interface every source implements and the local file source.
//
// Reload rule for the file source:
//  - the file parses as YAML: its valid entries become the whole state (replaceAll), its invalid
//    entries are reported and so are absent, exactly as if they were not in the file;
//  - the file is unreadable or not YAML: the last good state is kept whole and the problem reported
//    (an editor mid-save or a deleted file must not empty the mesh);
//  - every load emits one 'report'; an unchanged file is not reloaded.
import { EventEmitter } from 'node:events'
import { readFile } from 'node:fs/promises'
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { AmbientError, errorMessage } from '../errors.js'
import type { MeshDelta, MeshSnapshot } from './change.js'
import { LocalConfigErrorCode, parseLocalConfig, type ConfigError } from './local-config.js'

/** A producer of mesh state. `start()` resolves once the first state is applied. */
export interface ConfigSource {
  start(): Promise<void>
  close(): Promise<void>
}

export interface ConfigReport {
  readonly file: string
  /** 'applied': the valid entries are the state now; 'kept': the last good state was kept. */
  readonly outcome: 'applied' | 'kept'
  readonly errors: readonly ConfigError[]
  /** What the load changed (undefined when kept). */
  readonly delta: MeshDelta | undefined
  /** The entries applied (undefined when kept), for the "effective config" log line at start. */
  readonly counts: { readonly workloads: number; readonly services: number; readonly policies: number } | undefined
}

export const ConfigSourceErrorCode = {
  /** The first load failed: there is no last good state to serve. */
  initialLoad: 'MESH_CONFIG_INITIAL_LOAD',
} as const

export interface LocalConfigSourceOptions {
  readonly file: string
  /** The state to feed; only its full-reload entry point is used. */
  readonly state: { replaceAll(snapshot: MeshSnapshot): MeshDelta }
  readonly rootNamespace?: string
  /**
   * Quiet time after the last file event before reloading. Editors and `kubectl cp` write in
   * several steps (truncate, write, rename); 100 ms covers them without a noticeable delay.
   */
  readonly debounceMs?: number
}

export class LocalConfigSource extends EventEmitter<{ report: [ConfigReport] }> implements ConfigSource {
  readonly file: string
  readonly #options: LocalConfigSourceOptions
  readonly #debounceMs: number
  #watcher: FSWatcher | undefined
  #timer: NodeJS.Timeout | undefined
  /** Loads run one at a time, in order; close() waits for the last. */
  #loading: Promise<unknown> = Promise.resolve()
  #lastText: string | undefined
  #closed = false
  #lastReport: ConfigReport | undefined

  constructor(options: LocalConfigSourceOptions) {
    super()
    this.file = resolve(options.file)
    this.#options = options
    this.#debounceMs = options.debounceMs ?? 100
  }

  /** The most recent report (for readiness and /config_dump). */
  get lastReport(): ConfigReport | undefined {
    return this.#lastReport
  }

  /**
   * Watches, then loads. Watching first means a change made while the first load runs is not
   * missed. Rejects with MESH_CONFIG_INITIAL_LOAD if the file cannot be read or is not YAML.
   */
  async start(): Promise<void> {
    if (this.#closed) throw new AmbientError('MESH_CONFIG_CLOSED', 'config source is closed', { side: 'internal' })
    // The directory, not the file: editors that save by rename replace the file's inode, and a
    // watch on the old inode would go silent.
    const name = basename(this.file)
    this.#watcher = watch(dirname(this.file), (_event, filename) => {
      // Some platforms omit the name; reloading an unchanged file is cheap and silent.
      if (filename === null || filename === name) this.#schedule()
    })
    this.#watcher.on('error', (err) =>
      this.#emit({ outcome: 'kept', errors: [this.#fileError(LocalConfigErrorCode.unreadable, `watch failed: ${errorMessage(err)}`)] }),
    )
    const report = await this.#enqueue()
    if (report === undefined) return // closed while starting
    if (report.outcome !== 'applied') {
      await this.close()
      throw new AmbientError(
        ConfigSourceErrorCode.initialLoad,
        `cannot load ${this.file}: ${report.errors.map((e) => e.reason).join('; ')}`,
        {
          side: 'config',
          details: { file: this.file, errors: report.errors },
        },
      )
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#watcher?.close()
    this.#watcher = undefined
    await this.#loading
  }

  #schedule(): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#enqueue()
    }, this.#debounceMs)
  }

  /**
   * Queues a load behind the running one. The queue itself never rejects (a throwing 'report'
   * listener must not stop later reloads); the caller's promise does.
   */
  #enqueue(): Promise<ConfigReport | undefined> {
    const next = this.#loading.then(() => (this.#closed ? undefined : this.#load()))
    this.#loading = next.catch(() => undefined)
    return next
  }

  async #load(): Promise<ConfigReport | undefined> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      return this.#emit({ outcome: 'kept', errors: [this.#fileError(LocalConfigErrorCode.unreadable, errorMessage(err))] })
    }
    if (text === this.#lastText) return undefined
    const result = parseLocalConfig(text, {
      file: this.file,
      ...(this.#options.rootNamespace === undefined ? {} : { rootNamespace: this.#options.rootNamespace }),
    })
    if (result.kind === 'unusable') return this.#emit({ outcome: 'kept', errors: result.errors })
    const delta = this.#options.state.replaceAll(result.snapshot)
    this.#lastText = text
    const { workloads, services, policies } = result.snapshot
    return this.#emit({
      outcome: 'applied',
      errors: result.errors,
      delta,
      counts: { workloads: workloads.length, services: services.length, policies: policies.length },
    })
  }

  #emit(r: Pick<ConfigReport, 'outcome' | 'errors'> & Partial<ConfigReport>): ConfigReport {
    const report: ConfigReport = Object.freeze({ file: this.file, delta: undefined, counts: undefined, ...r })
    // After a failed load, the next good read is reported (and re-applied, a no-op) even if its
    // text is what was applied before, so the last report never claims a fault that is gone.
    if (report.outcome === 'kept') this.#lastText = undefined
    this.#lastReport = report
    this.emit('report', report)
    return report
  }

  #fileError(code: LocalConfigErrorCode, reason: string): ConfigError {
    return { code, file: this.file, path: '', line: undefined, reason }
  }
}

export function createLocalConfigSource(options: LocalConfigSourceOptions): LocalConfigSource {
  return new LocalConfigSource(options)
}
