// istiod's second config source: the Kubernetes API. One Reflector (list+watch) per kind istiod
// reads; every object goes through the same parser as a file (its JSON is YAML), so translation,
// analysis and xDS never know where config came from.
//
// Rules:
//  - nothing is emitted until EVERY kind's first LIST is in: a half-listed cluster (pods without
//    their policies) is never pushed;
//  - afterwards changes are batched (`debounceMs`) into one update; a relist after 410 Gone is just a
//    change like any other;
//  - Pods: only scheduled pods with an address that have not finished (status.podIP set, phase not
//    Succeeded/Failed) — real IPs, real nodes, nothing synthesised; Deployments are not read (their
//    pods are);
//  - objects are parsed once per resourceVersion; the "file" of an object is `k8s:Kind/ns/name`.
import type { KubeClient, KubeObject } from '../kube/client.js'
import { startReflector, type Reflector } from '../kube/reflector.js'
import { nextConfigUpdate, type ConfigListener, type ConfigSource, type ConfigUpdate } from './config-source.js'
import type { ConfigMessage } from './resources/messages.js'
import type { ConfigObject, Kind } from './resources/model.js'
import { parseConfigText } from './resources/parse.js'

/** Kind → the collection it is listed from, and the apiVersion its items carry. */
export const KUBE_RESOURCES: Readonly<Partial<Record<Kind, { readonly path: string; readonly apiVersion: string }>>> = {
  Namespace: { path: '/api/v1/namespaces', apiVersion: 'v1' },
  Pod: { path: '/api/v1/pods', apiVersion: 'v1' },
  Service: { path: '/api/v1/services', apiVersion: 'v1' },
  ServiceAccount: { path: '/api/v1/serviceaccounts', apiVersion: 'v1' },
  AuthorizationPolicy: { path: '/apis/security.istio.io/v1/authorizationpolicies', apiVersion: 'security.istio.io/v1' },
  PeerAuthentication: { path: '/apis/security.istio.io/v1/peerauthentications', apiVersion: 'security.istio.io/v1' },
  VirtualService: { path: '/apis/networking.istio.io/v1/virtualservices', apiVersion: 'networking.istio.io/v1' },
  DestinationRule: { path: '/apis/networking.istio.io/v1/destinationrules', apiVersion: 'networking.istio.io/v1' },
  Telemetry: { path: '/apis/telemetry.istio.io/v1/telemetries', apiVersion: 'telemetry.istio.io/v1' },
  Gateway: { path: '/apis/gateway.networking.k8s.io/v1/gateways', apiVersion: 'gateway.networking.k8s.io/v1' },
  HTTPRoute: { path: '/apis/gateway.networking.k8s.io/v1/httproutes', apiVersion: 'gateway.networking.k8s.io/v1' },
}

export interface KubeConfigSourceOptions {
  readonly client: KubeClient
  /** Quiet time after a change before emitting (default 50 ms). */
  readonly debounceMs?: number
  readonly onError?: (kind: Kind, err: unknown) => void
  readonly backoff?: { readonly minMs: number; readonly maxMs: number }
}

interface Parsed {
  readonly resourceVersion: string | undefined
  readonly objects: readonly ConfigObject[]
  readonly messages: readonly ConfigMessage[]
}

export class KubeConfigSource implements ConfigSource {
  readonly #options: KubeConfigSourceOptions
  readonly #reflectors = new Map<Kind, Reflector>()
  readonly #listeners = new Set<ConfigListener>()
  readonly #parsed = new Map<string, Parsed>()
  #current: ConfigUpdate | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: KubeConfigSourceOptions) {
    this.#options = options
  }

  get current(): ConfigUpdate | undefined {
    return this.#current
  }

  onUpdate(listener: ConfigListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** The raw objects of a kind as the API server last gave them (for controllers: uids, status). */
  raw(kind: Kind): readonly KubeObject[] {
    return [...(this.#reflectors.get(kind)?.store.values() ?? [])]
  }

  /** Per kind: LISTs done (1 + relists after 410 Gone) and the last resourceVersion. */
  status(): Record<string, { lists: number; resourceVersion: string; synced: boolean }> {
    return Object.fromEntries(
      [...this.#reflectors].map(([k, r]) => [k, { lists: r.lists, resourceVersion: r.resourceVersion, synced: r.synced }]),
    )
  }

  async start(): Promise<ConfigUpdate> {
    for (const [kind, res] of Object.entries(KUBE_RESOURCES) as [Kind, { path: string }][]) {
      this.#reflectors.set(
        kind,
        startReflector({
          client: this.#options.client,
          path: res.path,
          onChange: () => this.#schedule(),
          onError: (err) => this.#options.onError?.(kind, err),
          ...(this.#options.backoff === undefined ? {} : { backoff: this.#options.backoff }),
        }),
      )
    }
    await Promise.all([...this.#reflectors.values()].map((r) => r.ready))
    clearTimeout(this.#timer)
    this.#emit()
    return this.#current as ConfigUpdate
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    for (const r of this.#reflectors.values()) r.stop()
  }

  #schedule(): void {
    // Before every kind's first list, start() emits; afterwards changes are batched.
    if (this.#closed || this.#current === undefined) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#emit(), this.#options.debounceMs ?? 50)
  }

  #emit(): void {
    if (this.#closed) return
    const seen = new Set<string>()
    const changed: string[] = []
    for (const [kind, reflector] of this.#reflectors) {
      for (const raw of reflector.store.values()) {
        if (kind === 'Pod' && !isRunningWithAddress(raw)) continue
        const file = `k8s:${kind}/${raw.metadata.namespace === undefined ? '' : `${raw.metadata.namespace}/`}${raw.metadata.name}`
        seen.add(file)
        const before = this.#parsed.get(file)
        if (before !== undefined && before.resourceVersion !== undefined && before.resourceVersion === raw.metadata.resourceVersion)
          continue
        const text = JSON.stringify(configView(kind, raw))
        const parsed = parseConfigText(text, file)
        this.#parsed.set(file, { resourceVersion: raw.metadata.resourceVersion, objects: parsed.objects, messages: parsed.messages })
        changed.push(file)
      }
    }
    for (const file of [...this.#parsed.keys()]) {
      if (seen.has(file)) continue
      this.#parsed.delete(file)
      changed.push(file)
    }
    if (this.#current !== undefined && changed.length === 0) return
    const update = nextConfigUpdate(this.#current, this.#parsed, changed.sort())
    this.#current = update
    for (const listener of this.#listeners) listener(update)
  }
}

/** A pod that has an address and has not finished. */
function isRunningWithAddress(o: KubeObject): boolean {
  const status = (o.status ?? {}) as { podIP?: string; phase?: string }
  return typeof status.podIP === 'string' && status.podIP !== '' && status.phase !== 'Succeeded' && status.phase !== 'Failed'
}

/** What the parser reads: kind/apiVersion (list items carry neither) and the user-facing metadata. */
function configView(kind: Kind, o: KubeObject): Record<string, unknown> {
  const m = o.metadata
  return {
    ...o,
    apiVersion: o.apiVersion ?? KUBE_RESOURCES[kind]?.apiVersion,
    kind,
    metadata: {
      name: m.name,
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.labels === undefined ? {} : { labels: m.labels }),
      ...(m.annotations === undefined ? {} : { annotations: m.annotations }),
    },
    // Istio kinds: status is the API server's (and our status writer's), never input.
    ...(kind === 'Pod' || o.status === undefined ? {} : { status: undefined }),
  }
}
