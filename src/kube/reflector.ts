// One kind's list+watch, kept as a local store (client-go's Reflector + Store):
//  - LIST, replace the store, then WATCH from the list's resourceVersion with allowWatchBookmarks;
//  - each event moves the resourceVersion on (BOOKMARK events only move it);
//  - a watch that ends (the server's timeout, an API server restart, a broken connection) is opened
//    again from the last resourceVersion, after a backoff when it failed;
//  - 410 Gone (the version was compacted away), as an HTTP status or an ERROR event, means events
//    were lost: LIST again and replace the store (objects gone meanwhile disappear);
//  - a kind the server does not serve (404 on LIST: a CRD not installed) counts as listed and empty,
//    and is listed again after a backoff until it is served (Istio starts without optional CRDs too);
//  - `synced` turns true after the first LIST and stays true; `onChange` is called after the store
//    changed (never for a bookmark).
import { errorMessage } from '../errors.js'
import { KubeStatusError, type KubeClient, type KubeObject, type WatchEvent, type WatchHandle } from './client.js'

export interface ReflectorOptions {
  readonly client: KubeClient
  /** Collection path, e.g. `/api/v1/pods` or `/apis/gateway.networking.k8s.io/v1/gateways`. */
  readonly path: string
  readonly fieldSelector?: string
  readonly labelSelector?: string
  readonly onChange: () => void
  /** Called with every failure (then retried); default: nothing. */
  readonly onError?: (err: unknown) => void
  /** Retry delays: from `minMs` doubling to `maxMs`. Defaults 100 ms / 5 s. */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number }
}

export interface Reflector {
  readonly synced: boolean
  /** Resolves after the first successful LIST. */
  readonly ready: Promise<void>
  readonly resourceVersion: string
  /** Objects by `namespace/name` (or `name`). */
  readonly store: ReadonlyMap<string, KubeObject>
  /** How many times a LIST ran (1 + relists), for tests and /debug. */
  readonly lists: number
  stop(): void
}

export function objectStoreKey(o: KubeObject): string {
  return o.metadata.namespace === undefined ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`
}

export function startReflector(options: ReflectorOptions): Reflector {
  const store = new Map<string, KubeObject>()
  const minMs = options.backoff?.minMs ?? 100
  const maxMs = options.backoff?.maxMs ?? 5_000
  const selectors: Record<string, string> = {
    ...(options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector }),
    ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
  }
  let resourceVersion = ''
  let synced = false
  let stopped = false
  let lists = 0
  let delay = minMs
  let current: WatchHandle | undefined
  let timer: NodeJS.Timeout | undefined
  let wake: (() => void) | undefined
  let markReady: () => void = () => undefined
  const ready = new Promise<void>((r) => {
    markReady = r
  })

  const pause = (): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve
      timer = setTimeout(resolve, delay)
      delay = Math.min(maxMs, delay * 2)
    })

  const list = async (): Promise<void> => {
    const l = await options.client.list(options.path, selectors)
    lists++
    store.clear()
    for (const o of l.items) store.set(objectStoreKey(o), o)
    resourceVersion = l.metadata.resourceVersion
    if (!synced) {
      synced = true
      markReady()
    }
    options.onChange()
  }

  const notServed = (): void => {
    const had = store.size > 0
    store.clear()
    if (!synced) {
      synced = true
      markReady()
      options.onChange()
    } else if (had) {
      options.onChange()
    }
  }

  const apply = (e: WatchEvent): 'gone' | undefined => {
    if (e.type === 'ERROR') {
      if (e.object.code === 410) return 'gone'
      throw new KubeStatusError(e.object.code ?? 0, e.object.reason ?? '', `watch ${options.path}: ${e.object.message ?? 'error event'}`)
    }
    const rv = e.object.metadata?.resourceVersion
    if (rv !== undefined) resourceVersion = rv
    if (e.type === 'BOOKMARK') return undefined
    if (e.type === 'DELETED') store.delete(objectStoreKey(e.object))
    else store.set(objectStoreKey(e.object), e.object)
    options.onChange()
    return undefined
  }

  const run = async (): Promise<void> => {
    let needList = true
    while (!stopped) {
      try {
        if (needList) {
          await list()
          needList = false
        }
        let gone = false
        const handle = options.client.watch(options.path, { ...selectors, resourceVersion, allowWatchBookmarks: 'true' }, (e) => {
          if (gone || stopped) return
          if (apply(e) === 'gone') {
            gone = true
            handle.abort()
          }
        })
        current = handle
        await handle.done
        delay = minMs // a watch that was served resets the backoff
        if (gone) needList = true
        continue
      } catch (err) {
        if (stopped) return
        if (err instanceof KubeStatusError && err.statusCode === 410) {
          needList = true
          continue
        }
        if (needList && err instanceof KubeStatusError && err.statusCode === 404) {
          notServed()
        } else {
          options.onError?.(err)
        }
      }
      await pause()
    }
  }
  run().catch((err: unknown) => options.onError?.(new Error(`reflector ${options.path} stopped: ${errorMessage(err)}`)))

  return {
    get synced() {
      return synced
    },
    ready,
    get resourceVersion() {
      return resourceVersion
    },
    store,
    get lists() {
      return lists
    },
    stop() {
      stopped = true
      clearTimeout(timer)
      wake?.()
      current?.abort()
    },
  }
}
