// istiod's config sources. Every source produces the same thing: a whole ConfigSnapshot plus the
// messages about the input, again after every change; translation never knows where config came
// from. The directory source is the first; the Kubernetes API becomes a second behind the same
// interface.
//
// Directory rules:
//  - every *.yaml / *.yml under the directory (recursively; names starting with "." are editors'
//    and tools' scratch files and are skipped) is one file of config; files are read in path order;
//  - the directory and each subdirectory are watched (fs.watch) and events are debounced: editors
//    save by truncate+write or write-temp+rename, in several events;
//  - each reload re-reads the file list, so added, changed, renamed and removed files all apply;
//    a file whose text did not change is not parsed again;
//  - a file with YAML syntax errors, or that cannot be read, keeps its LAST GOOD objects (a
//    half-saved file must not empty the mesh) and is reported; with no last good state, the
//    documents the yaml library recovered are used;
//  - invalid objects are skipped (not kept from before): the file parsed, and this is what it says.
import { watch, type FSWatcher } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { basename, join, relative, sep } from 'node:path'
import { AmbientError, errorCode, errorMessage } from '../errors.js'
import { ConfigMessageCode, type ConfigMessage } from './resources/messages.js'
import type { ConfigObject, ConfigSnapshot } from './resources/model.js'
import { parseConfigText } from './resources/parse.js'
import { buildSnapshot } from './resources/snapshot.js'

export interface ConfigUpdate {
  /** Increases by one with every update a source emits, from 1. */
  readonly version: number
  readonly snapshot: ConfigSnapshot
  /** Every message about the current input (not only the files that changed). */
  readonly messages: readonly ConfigMessage[]
  /** Files added, changed or removed since the previous update (all files for the first). */
  readonly changedFiles: readonly string[]
}

export type ConfigListener = (update: ConfigUpdate) => void

/**
 * The update that follows `previous` (undefined for the first): the snapshot of every file's objects,
 * and the files' own messages (in file order) before the snapshot's.
 */
export function nextConfigUpdate(
  previous: ConfigUpdate | undefined,
  files: ReadonlyMap<string, { readonly objects: readonly ConfigObject[]; readonly messages: readonly ConfigMessage[] }>,
  changedFiles: readonly string[],
): ConfigUpdate {
  const built = buildSnapshot([...files].map(([file, s]) => ({ file, objects: s.objects })))
  const perFile = [...files.keys()].sort().flatMap((f) => files.get(f)?.messages ?? [])
  return Object.freeze({
    version: (previous?.version ?? 0) + 1,
    snapshot: built.snapshot,
    messages: Object.freeze([...perFile, ...built.messages]),
    changedFiles: Object.freeze([...changedFiles]),
  })
}

export interface ConfigSource {
  /** Reads the initial config; resolves with the first update (also delivered to listeners). */
  start(): Promise<ConfigUpdate>
  /** Registers a listener for every later update; returns the unsubscribe function. */
  onUpdate(listener: ConfigListener): () => void
  /** The latest update, undefined before start() resolves. */
  readonly current: ConfigUpdate | undefined
  close(): Promise<void>
}

export const ConfigSourceErrorCode = {
  /** The directory does not exist or is not readable when the source starts. */
  noDirectory: 'ISTIOD_CONFIG_DIR_UNREADABLE',
} as const

export interface DirectoryConfigSourceOptions {
  readonly dir: string
  /** Quiet time after the last file event before reloading; 100 ms covers multi-step editor saves. */
  readonly debounceMs?: number
  /** Default true; false reads once at start (tests, `ambient analyze`). */
  readonly watch?: boolean
}

interface FileState {
  readonly text: string | undefined
  /** The last good objects (kept when the file turns unreadable or has YAML syntax errors). */
  readonly objects: readonly ConfigObject[]
  readonly messages: readonly ConfigMessage[]
}

const CONFIG_FILE = /\.ya?ml$/

export function createDirectoryConfigSource(options: DirectoryConfigSourceOptions): DirectoryConfigSource {
  return new DirectoryConfigSource(options)
}

export class DirectoryConfigSource implements ConfigSource {
  readonly dir: string
  readonly #debounceMs: number
  readonly #watch: boolean
  readonly #files = new Map<string, FileState>()
  readonly #listeners = new Set<ConfigListener>()
  #current: ConfigUpdate | undefined
  readonly #watchers = new Map<string, FSWatcher>()
  #timer: NodeJS.Timeout | undefined
  /** Reloads run one at a time, in order; close() waits for the last. */
  #loading: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor(options: DirectoryConfigSourceOptions) {
    this.dir = options.dir
    this.#debounceMs = options.debounceMs ?? 100
    this.#watch = options.watch ?? true
  }

  get current(): ConfigUpdate | undefined {
    return this.#current
  }

  onUpdate(listener: ConfigListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async start(): Promise<ConfigUpdate> {
    // The top directory is watched before the first read, so a change made while we read is not missed.
    this.#syncWatchers([this.dir])
    try {
      await this.#reload(true)
    } catch (err) {
      await this.close()
      throw err
    }
    return this.#current as ConfigUpdate
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    for (const w of this.#watchers.values()) w.close()
    this.#watchers.clear()
    await this.#loading.catch(() => undefined)
  }

  /**
   * One plain (non-recursive) watcher per directory, kept in step with the tree at every reload.
   * Node 20's `recursive: true` on Linux loses track of a file replaced by rename (the usual editor
   * save), while a directory's own inotify watch sees every entry change, renames included.
   */
  #syncWatchers(dirs: readonly string[]): void {
    if (!this.#watch || this.#closed) return
    const wanted = new Set(dirs)
    for (const [dir, w] of this.#watchers) {
      if (!wanted.has(dir)) {
        w.close()
        this.#watchers.delete(dir)
      }
    }
    for (const dir of wanted) {
      if (this.#watchers.has(dir)) continue
      try {
        const w = watch(dir, () => this.#schedule())
        // A watcher error (its directory removed) must not crash istiod: the next reload re-syncs.
        w.on('error', () => {
          w.close()
          this.#watchers.delete(dir)
          this.#schedule()
        })
        this.#watchers.set(dir, w)
      } catch {
        // Gone between listing and watching: the parent's watcher reports it.
      }
    }
  }

  #schedule(): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#loading = this.#loading.then(() => this.#reload(false)).catch(() => undefined)
    }, this.#debounceMs)
  }

  async #reload(initial: boolean): Promise<void> {
    let names: string[]
    try {
      const listing = await listTree(this.dir)
      names = listing.files
      this.#syncWatchers(listing.dirs)
    } catch (err) {
      if (initial) throw this.#dirError(err)
      return // the directory vanished: keep the last config until it comes back
    }
    const changed: string[] = []
    const present = new Set(names.map((n) => join(this.dir, n)))
    for (const file of [...this.#files.keys()]) {
      if (!present.has(file)) {
        this.#files.delete(file)
        changed.push(file)
      }
    }
    for (const file of [...present].sort()) {
      if (await this.#loadFile(file)) changed.push(file)
    }
    if (this.#closed || (!initial && changed.length === 0)) return
    this.#emit(changed.sort())
  }

  /** Re-reads one file; true when its state changed. */
  async #loadFile(file: string): Promise<boolean> {
    const before = this.#files.get(file)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      const code = errorCode(err)
      if (code === 'ENOENT' || code === 'EISDIR') {
        // Gone between listing and reading (a rename-save in flight): the next event settles it.
        if (before === undefined) return false
        this.#files.delete(file)
        return true
      }
      const msg = fileMessage(file, ConfigMessageCode.unreadable, `cannot read the file: ${errorMessage(err)}`, 'check its permissions')
      this.#files.set(file, { text: undefined, objects: before?.objects ?? [], messages: [msg, ...keptNote(file, before)] })
      return true
    }
    if (before !== undefined && before.text === text) return false
    const parsed = parseConfigText(text, file)
    if (!parsed.syntaxOk && before !== undefined && before.objects.length > 0) {
      this.#files.set(file, { text, objects: before.objects, messages: [...parsed.messages, ...keptNote(file, before)] })
    } else {
      this.#files.set(file, { text, objects: parsed.objects, messages: parsed.messages })
    }
    return true
  }

  #emit(changedFiles: readonly string[]): void {
    const update = nextConfigUpdate(this.#current, this.#files, changedFiles)
    this.#current = update
    for (const listener of this.#listeners) listener(update)
  }

  #dirError(err: unknown): AmbientError {
    return new AmbientError(ConfigSourceErrorCode.noDirectory, `cannot read config directory ${this.dir}: ${errorMessage(err)}`, {
      side: 'config',
      cause: err,
    })
  }
}

/** Config files (relative paths) and directories (absolute) under `dir`, skipping hidden entries. */
async function listTree(dir: string): Promise<{ files: string[]; dirs: string[] }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const files: string[] = []
  const dirs = [dir]
  for (const e of entries) {
    const abs = join(e.parentPath, e.name)
    const rel = relative(dir, abs)
    if (rel.split(sep).some((part) => part.startsWith('.'))) continue
    if (e.isDirectory()) dirs.push(abs)
    else if (e.isFile() && CONFIG_FILE.test(e.name)) files.push(rel)
  }
  return { files, dirs }
}

function keptNote(file: string, before: FileState | undefined): ConfigMessage[] {
  if (before === undefined || before.objects.length === 0) return []
  return [
    fileMessage(
      file,
      ConfigMessageCode.keptLastGood,
      `keeping the ${before.objects.length} object(s) last read from ${basename(file)} until it parses again`,
      'fix the errors above and save',
      'warning',
    ),
  ]
}

function fileMessage(
  file: string,
  code: ConfigMessage['code'],
  reason: string,
  hint: string,
  severity: ConfigMessage['severity'] = 'error',
): ConfigMessage {
  return Object.freeze({ code, severity, file, docIndex: undefined, object: undefined, path: '', line: undefined, reason, hint })
}
