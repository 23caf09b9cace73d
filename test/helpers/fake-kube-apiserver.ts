// An in-repo Kubernetes API server with real list/watch semantics, for testing istiod's Kubernetes
// source without a cluster (none can run here). What it does as kube-apiserver does:
//  - one global resourceVersion, bumped by every write; objects carry theirs;
//  - LIST returns items and the list's resourceVersion; field selectors on any dotted path
//    (metadata.name, metadata.namespace, spec.nodeName, status.phase) and label selectors
//    (k=v, k!=v, k, !k);
//  - WATCH (`?watch=1`) streams JSON lines from the given resourceVersion (resourceVersion "" or "0":
//    synthetic ADDED for what exists first); a version older than the compaction floor gets an ERROR
//    event carrying a 410 Gone Status (`compact()`), as etcd's compaction makes the real one do;
//    `allowWatchBookmarks=true` watches get BOOKMARK events from `bookmark()`; `timeoutSeconds` ends
//    the stream; `closeWatches()`/`restart()` play an API server going away;
//  - create (409 if it exists; a Service without clusterIP gets one from 10.96/16), replace (409 on a stale resourceVersion), merge/strategic patch
//    (both as RFC 7386 merge patch: enough for kubectl apply and istiod's writes), delete, the
//    status subresource, and ownerReference garbage collection (dependents go with their owner);
//  - TokenReview (authentication.k8s.io/v1) against tokens the test registers, with audiences;
//  - discovery (/api, /apis, /api/v1, /apis/G/V, /version) so kubectl can drive it.
// Differences: no admission, no defaulting, no schema validation, status accepted on create (tests
// create pods already running, with their podIP), HTTP only.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

type Obj = {
  apiVersion?: string
  kind?: string
  metadata: {
    name: string
    namespace?: string
    resourceVersion?: string
    uid?: string
    labels?: Record<string, string>
    ownerReferences?: { uid: string }[]
    [k: string]: unknown
  }
  [k: string]: unknown
}

interface ResourceType {
  group: string
  version: string
  plural: string
  kind: string
  namespaced: boolean
}

export const FAKE_RESOURCES: readonly ResourceType[] = [
  ['', 'v1', 'namespaces', 'Namespace', false],
  ['', 'v1', 'pods', 'Pod', true],
  ['', 'v1', 'services', 'Service', true],
  ['', 'v1', 'serviceaccounts', 'ServiceAccount', true],
  ['', 'v1', 'secrets', 'Secret', true],
  ['', 'v1', 'configmaps', 'ConfigMap', true],
  ['apps', 'v1', 'deployments', 'Deployment', true],
  ['apps', 'v1', 'daemonsets', 'DaemonSet', true],
  ['security.istio.io', 'v1', 'authorizationpolicies', 'AuthorizationPolicy', true],
  ['security.istio.io', 'v1', 'peerauthentications', 'PeerAuthentication', true],
  ['networking.istio.io', 'v1', 'virtualservices', 'VirtualService', true],
  ['networking.istio.io', 'v1', 'destinationrules', 'DestinationRule', true],
  ['telemetry.istio.io', 'v1', 'telemetries', 'Telemetry', true],
  ['gateway.networking.k8s.io', 'v1', 'gateways', 'Gateway', true],
  ['gateway.networking.k8s.io', 'v1', 'httproutes', 'HTTPRoute', true],
].map(([group, version, plural, kind, namespaced]) => ({ group, version, plural, kind, namespaced }) as ResourceType)

interface Event {
  rv: number
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  res: ResourceType
  object: Obj
}
interface Watcher {
  res: ResourceType
  namespace: string | undefined
  match: (o: Obj) => boolean
  res_: http.ServerResponse
  bookmarks: boolean
}

export interface FakeToken {
  readonly username: string
  readonly audiences: readonly string[]
  readonly extra?: Record<string, string[]>
}

export interface FakeKubeApiServer {
  /** `http://host:port`. */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly resourceVersion: number
  /** Every request as `METHOD path?query`, in order (tests read what a client did). */
  readonly requests: readonly string[]
  /** Server-side write, as a client's create/update would do (returns the stored object). */
  apply(o: Obj): Obj
  remove(kind: string, namespace: string | undefined, name: string): void
  get(kind: string, namespace: string | undefined, name: string): Obj | undefined
  list(kind: string): Obj[]
  /** Forget events up to the current version: watches from before get 410 Gone. */
  compact(): void
  /** A BOOKMARK to every watch that asked for them. */
  bookmark(): void
  /** End every open watch stream (clients must re-watch from their resourceVersion). */
  closeWatches(): void
  /** Stop listening, dropping connections, then listen again on the same address (state kept). */
  restart(): Promise<void>
  addToken(token: string, t: FakeToken): void
  /** LISTs of `plural` wait until the returned function is called (a slow API server). */
  holdLists(plural: string): () => void
  /** `plural` answers 404, as a CRD not installed does, until `serve(plural)`. */
  withhold(plural: string): void
  serve(plural: string): void
  watchCount(): number
  /** A kubeconfig text pointing at this server. */
  kubeconfig(): string
  close(): Promise<void>
}

export async function startFakeKubeApiServer(options: { host?: string } = {}): Promise<FakeKubeApiServer> {
  const host = options.host ?? '127.0.0.1'
  const objects = new Map<string, { res: ResourceType; object: Obj }>()
  const events: Event[] = []
  const watchers = new Set<Watcher>()
  const tokens = new Map<string, FakeToken>()
  const requests: string[] = []
  let rv = 1
  let floor = 0
  let serviceIps = 10
  const held = new Map<string, Promise<void>>()
  const withheld = new Set<string>()

  const key = (res: ResourceType, ns: string | undefined, name: string): string => `${res.plural}.${res.group}/${ns ?? ''}/${name}`
  const byKind = (kind: string): ResourceType => {
    const r = FAKE_RESOURCES.find((x) => x.kind === kind)
    if (r === undefined) throw new Error(`fake apiserver: unknown kind ${kind}`)
    return r
  }
  const apiVersion = (r: ResourceType): string => (r.group === '' ? r.version : `${r.group}/${r.version}`)
  const clone = (o: Obj): Obj => structuredClone(o)

  const emit = (type: Event['type'], res: ResourceType, object: Obj): void => {
    const e: Event = { rv: Number(object.metadata.resourceVersion), type, res, object: clone(object) }
    events.push(e)
    for (const w of watchers) send(w, e)
  }
  const send = (w: Watcher, e: Event): void => {
    if (w.res !== e.res || (w.namespace !== undefined && e.object.metadata.namespace !== w.namespace) || !w.match(e.object)) return
    w.res_.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`)
  }

  const store = (res: ResourceType, o: Obj, previous: Obj | undefined): Obj => {
    rv++
    // The Service IP allocator: a new ClusterIP Service without an address gets one.
    if (res.kind === 'Service' && previous === undefined) {
      const spec = (o.spec ?? {}) as { clusterIP?: string; type?: string }
      if ((spec.clusterIP === undefined || spec.clusterIP === '') && spec.type !== 'ExternalName')
        o = { ...o, spec: { ...spec, clusterIP: `10.96.${Math.floor(++serviceIps / 250)}.${serviceIps % 250}` } }
    }
    const stored: Obj = {
      ...clone(o),
      apiVersion: apiVersion(res),
      kind: res.kind,
      metadata: {
        ...clone(o).metadata,
        uid: previous?.metadata.uid ?? o.metadata.uid ?? randomUUID(),
        resourceVersion: String(rv),
        creationTimestamp: (previous?.metadata.creationTimestamp as string | undefined) ?? new Date().toISOString(),
      },
    }
    if (!res.namespaced) delete stored.metadata.namespace
    objects.set(key(res, stored.metadata.namespace, stored.metadata.name), { res, object: stored })
    emit(previous === undefined ? 'ADDED' : 'MODIFIED', res, stored)
    return stored
  }
  const del = (res: ResourceType, ns: string | undefined, name: string): Obj | undefined => {
    const k = key(res, ns, name)
    const found = objects.get(k)
    if (found === undefined) return undefined
    objects.delete(k)
    rv++
    const gone = { ...found.object, metadata: { ...found.object.metadata, resourceVersion: String(rv) } }
    emit('DELETED', res, gone)
    // The garbage collector: dependents whose owner is gone go too.
    const uid = found.object.metadata.uid
    for (const dep of [...objects.values()]) {
      if (dep.object.metadata.ownerReferences?.some((r) => r.uid === uid) === true)
        del(dep.res, dep.object.metadata.namespace, dep.object.metadata.name)
    }
    return gone
  }

  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => {
      body += c
    })
    req.on('end', () => {
      try {
        handle(req, res, body)
      } catch (err) {
        status(res, 500, 'InternalError', String(err))
      }
    })
  })

  const json = (res: http.ServerResponse, code: number, value: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' })
    res.end(JSON.stringify(value))
  }
  const statusObj = (code: number, reason: string, message: string): Record<string, unknown> => ({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  })
  const status = (res: http.ServerResponse, code: number, reason: string, message: string): void =>
    json(res, code, statusObj(code, reason, message))

  const discovery = (res: http.ServerResponse, path: string): boolean => {
    if (path === '/version') {
      json(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0-fake', platform: 'linux/amd64' })
      return true
    }
    if (path === '/api') {
      json(res, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${host}:${port()}` }],
      })
      return true
    }
    if (path === '/apis') {
      const groups = [...new Set(FAKE_RESOURCES.filter((r) => r.group !== '').map((r) => r.group))]
      json(res, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: groups.map((g) => ({
          name: g,
          versions: [{ groupVersion: `${g}/v1`, version: 'v1' }],
          preferredVersion: { groupVersion: `${g}/v1`, version: 'v1' },
        })),
      })
      return true
    }
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)$/.exec(path)
    if (m === null) return false
    const group = m[1] ?? ''
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']
    json(res, 200, {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group === '' ? 'v1' : `${group}/v1`,
      resources: FAKE_RESOURCES.filter((r) => r.group === group).flatMap((r) => [
        { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs },
        { name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] },
      ]),
    })
    return true
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: string): void => {
    const url = new URL(req.url ?? '/', 'http://fake')
    const path = url.pathname.replace(/\/$/, '')
    if (req.method === 'GET' && discovery(res, path)) return
    if (req.method === 'POST' && path === '/apis/authentication.k8s.io/v1/tokenreviews') return tokenReview(res, body)
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(path)
    // /api/v1/namespaces/NAME is the namespace itself, not a collection in it.
    let [group, ns, plural, name, sub] = m === null ? [] : [m[1] ?? '', m[2], m[3], m[4], m[5]]
    if (
      m !== null &&
      ns !== undefined &&
      plural !== undefined &&
      name === undefined &&
      group === '' &&
      !FAKE_RESOURCES.some((r) => r.plural === plural && r.group === '')
    ) {
      ;[name, plural, ns] = [ns, 'namespaces', undefined]
    }
    if (m === null && /^\/api\/v1\/namespaces\/([^/]+)(\/status)?$/.test(path)) {
      const mm = /^\/api\/v1\/namespaces\/([^/]+)(\/status)?$/.exec(path) as RegExpExecArray
      ;[group, ns, plural, name, sub] = ['', undefined, 'namespaces', mm[1], mm[2] === undefined ? undefined : 'status']
    }
    const r = FAKE_RESOURCES.find((x) => x.group === group && x.plural === plural && !withheld.has(x.plural))
    if (r === undefined) return status(res, 404, 'NotFound', `the server could not find the requested resource ${path}`)
    const q = url.searchParams
    if (req.method === 'GET' && name === undefined) {
      const match = selector(q.get('fieldSelector') ?? '', q.get('labelSelector') ?? '')
      if (q.get('watch') === '1' || q.get('watch') === 'true') return watch(res, r, ns, match, q)
      const gate = held.get(r.plural)
      if (gate !== undefined) {
        void gate.then(() => handle(req, res, body))
        held.delete(r.plural)
        return
      }
      const items = [...objects.values()]
        .filter((e) => e.res === r && (ns === undefined || e.object.metadata.namespace === ns) && match(e.object))
        .map((e) => e.object)
      items.sort((a, b) => key(r, a.metadata.namespace, a.metadata.name).localeCompare(key(r, b.metadata.namespace, b.metadata.name)))
      return json(res, 200, { kind: `${r.kind}List`, apiVersion: apiVersion(r), metadata: { resourceVersion: String(rv) }, items })
    }
    if (req.method === 'POST' && name === undefined) {
      const o = JSON.parse(body) as Obj
      o.metadata ??= { name: '' }
      if (ns !== undefined) o.metadata.namespace ??= ns
      if (o.metadata.name === undefined || o.metadata.name === '') {
        if (typeof o.metadata.generateName !== 'string') return status(res, 422, 'Invalid', 'metadata.name: Required value')
        o.metadata.name = `${o.metadata.generateName}${randomUUID().slice(0, 5)}`
      }
      if (objects.has(key(r, r.namespaced ? o.metadata.namespace : undefined, o.metadata.name)))
        return status(res, 409, 'AlreadyExists', `${r.plural} "${o.metadata.name}" already exists`)
      return json(res, 201, store(r, o, undefined))
    }
    if (name === undefined) return status(res, 405, 'MethodNotAllowed', `${req.method} on a collection`)
    const k = key(r, r.namespaced ? ns : undefined, name)
    const current = objects.get(k)?.object
    if (req.method === 'GET')
      return current === undefined ? status(res, 404, 'NotFound', `${r.plural} "${name}" not found`) : json(res, 200, current)
    if (req.method === 'DELETE') {
      const gone = del(r, r.namespaced ? ns : undefined, name)
      return gone === undefined ? status(res, 404, 'NotFound', `${r.plural} "${name}" not found`) : json(res, 200, gone)
    }
    if (current === undefined) return status(res, 404, 'NotFound', `${r.plural} "${name}" not found`)
    let next: Obj
    if (req.method === 'PUT') {
      next = JSON.parse(body) as Obj
      const given = next.metadata?.resourceVersion
      if (given !== undefined && given !== current.metadata.resourceVersion)
        return status(res, 409, 'Conflict', `the object has been modified; please apply your changes to the latest version and try again`)
    } else if (req.method === 'PATCH') {
      const type = req.headers['content-type'] ?? ''
      if (!/merge-patch|strategic-merge-patch/.test(type))
        return status(res, 415, 'UnsupportedMediaType', `patch type ${type} is not supported by the fake`)
      next = mergePatch(clone(current), JSON.parse(body)) as Obj
    } else return status(res, 405, 'MethodNotAllowed', String(req.method))
    // The status subresource changes status only; the main resource never changes status.
    const merged =
      sub === 'status'
        ? { ...current, status: next.status }
        : { ...next, ...(current.status === undefined ? {} : { status: current.status }) }
    merged.metadata = { ...next.metadata, name, ...(r.namespaced ? { namespace: ns } : {}) } as Obj['metadata']
    if (sub === 'status') merged.metadata = current.metadata
    return json(res, 200, store(r, merged, current))
  }

  const tokenReview = (res: http.ServerResponse, body: string): void => {
    const review = JSON.parse(body) as { spec?: { token?: string; audiences?: string[] } }
    const t = tokens.get(review.spec?.token ?? '')
    const wanted = review.spec?.audiences ?? []
    const audiences = t === undefined ? [] : wanted.length === 0 ? [...t.audiences] : wanted.filter((a) => t.audiences.includes(a))
    const ok = t !== undefined && audiences.length > 0
    json(res, 201, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: review.spec,
      status: ok
        ? {
            authenticated: true,
            user: {
              username: t.username,
              uid: randomUUID(),
              groups: ['system:serviceaccounts', 'system:authenticated'],
              extra: t.extra ?? {},
            },
            audiences,
          }
        : { authenticated: false, error: t === undefined ? 'invalid bearer token' : 'token audiences do not match' },
    })
  }

  const watch = (
    res: http.ServerResponse,
    r: ResourceType,
    ns: string | undefined,
    match: (o: Obj) => boolean,
    q: URLSearchParams,
  ): void => {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    const from = q.get('resourceVersion') ?? ''
    const w: Watcher = { res: r, namespace: ns, match, res_: res, bookmarks: q.get('allowWatchBookmarks') === 'true' }
    if (from === '' || from === '0') {
      for (const e of objects.values()) send(w, { rv, type: 'ADDED', res: e.res, object: e.object })
    } else if (Number(from) < floor) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: statusObj(410, 'Expired', `too old resource version: ${from} (${floor})`) })}\n`)
      return
    } else {
      for (const e of events) if (e.rv > Number(from)) send(w, e)
    }
    watchers.add(w)
    const timeout = Number(q.get('timeoutSeconds') ?? '0')
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined
    res.on('close', () => {
      clearTimeout(timer)
      watchers.delete(w)
    })
  }

  const port = (): number => (server.address() as AddressInfo | null)?.port ?? boundPort
  let boundPort = 0
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  boundPort = port()
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`

  const closeWatches = (): void => {
    for (const w of watchers) w.res_.end()
    watchers.clear()
  }

  return {
    url,
    host,
    port: boundPort,
    get resourceVersion() {
      return rv
    },
    requests,
    apply(o) {
      const r = byKind(o.kind ?? '')
      const ns = r.namespaced ? (o.metadata.namespace ?? 'default') : undefined
      const current = objects.get(key(r, ns, o.metadata.name))?.object
      return store(r, { ...o, metadata: { ...o.metadata, ...(ns === undefined ? {} : { namespace: ns }) } }, current)
    },
    remove(kind, ns, name) {
      del(byKind(kind), byKind(kind).namespaced ? ns : undefined, name)
    },
    get(kind, ns, name) {
      return objects.get(key(byKind(kind), byKind(kind).namespaced ? ns : undefined, name))?.object
    },
    list(kind) {
      return [...objects.values()].filter((e) => e.res.kind === kind).map((e) => e.object)
    },
    compact() {
      floor = rv
      events.length = 0
    },
    bookmark() {
      for (const w of watchers) {
        if (w.bookmarks)
          w.res_.write(
            `${JSON.stringify({ type: 'BOOKMARK', object: { kind: w.res.kind, apiVersion: apiVersion(w.res), metadata: { resourceVersion: String(rv) } } })}\n`,
          )
      }
    },
    closeWatches,
    async restart() {
      closeWatches()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await new Promise<void>((resolve) => server.listen(boundPort, host, resolve))
    },
    addToken(token, t) {
      tokens.set(token, t)
    },
    holdLists(plural) {
      let release: () => void = () => undefined
      held.set(
        plural,
        new Promise<void>((r) => {
          release = r
        }),
      )
      return () => release()
    },
    withhold(plural) {
      withheld.add(plural)
    },
    serve(plural) {
      withheld.delete(plural)
    },
    watchCount: () => watchers.size,
    kubeconfig: () =>
      `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${url}\ncontexts:\n` +
      `- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n` +
      `- name: fake\n  user: {}\n`,
    async close() {
      closeWatches()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function selector(field: string, label: string): (o: Obj) => boolean {
  const fields =
    field === ''
      ? []
      : field.split(',').map((term) => {
          const neg = term.includes('!=')
          const [path, value] = term.split(neg ? '!=' : /==?/) as [string, string]
          return (o: Obj): boolean => {
            let v: unknown = o
            for (const part of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined
            const s = v === undefined || v === null ? '' : String(v)
            return neg ? s !== value : s === value
          }
        })
  const labels =
    label === ''
      ? []
      : label.split(',').map((term) => {
          return (o: Obj): boolean => {
            const l = o.metadata.labels ?? {}
            if (term.startsWith('!')) return !(term.slice(1) in l)
            if (term.includes('!=')) {
              const [k, v] = term.split('!=') as [string, string]
              return l[k] !== v
            }
            if (term.includes('=')) {
              const [k, v] = term.split(/==?/) as [string, string]
              return l[k] === v
            }
            return term in l
          }
        })
  return (o) => fields.every((f) => f(o)) && labels.every((f) => f(o))
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}
