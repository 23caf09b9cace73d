// istiod's providers across translations (src/istiod/providers.ts, encoded-resources.ts): an update
// re-encodes only what changed, reports exactly the names whose version changed (what the Delta server
// will send), and serves the same bytes and versions a full re-encode would.
import t from 'tap'
import { createIstiodProviders, type IstiodProviders } from '../../../src/istiod/providers.js'
import type { Translation } from '../../../src/istiod/translate/index.js'
import { TYPE_URL } from '../../../src/xds/convert.js'
import type { VersionedResource } from '../../../src/xds/resource-provider.js'
import { deployment, ns, run, service, waypoint } from './translate/helpers.js'

const PEER = { nodeId: 'n', nodeName: 'node-1', address: '127.0.0.1:1' }

const policy = (name: string, port: number, selector = `{matchLabels: {app: ${name}}}`) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  selector: ${selector}
  rules: [{to: [{operation: {ports: ["${port}"]}}]}]
---
`

function config(o: { webPort?: number; dbPolicy?: boolean; webReplicas?: number } = {}): string {
  return [
    ns('apps', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' }),
    waypoint('waypoint', { ns: 'apps' }),
    deployment('web', { ns: 'apps', replicas: o.webReplicas ?? 2 }),
    deployment('db', { ns: 'apps' }),
    service('web', { ns: 'apps' }),
    service('db', { ns: 'apps' }),
    policy('web', o.webPort ?? 8080),
    o.dbPolicy === false ? '' : policy('db', 5432),
  ].join('')
}

/** Each type's served map, copied (the providers' own maps are replaced on change). */
function served(p: IstiodProviders): Map<string, Map<string, VersionedResource>> {
  return new Map(p.providers.map((x) => [x.typeUrl, new Map(x.resources(PEER.nodeId, PEER))]))
}

/** Per type, the names whose version differs between two served states, and the names gone: the server's diff. */
function versionDiff(before: Map<string, Map<string, VersionedResource>>, after: Map<string, Map<string, VersionedResource>>) {
  const out = new Map<string, { changed: string[]; removed: string[] }>()
  for (const [type, next] of after) {
    const prev = before.get(type) ?? new Map<string, VersionedResource>()
    const changed = [...next].filter(([name, r]) => prev.get(name)?.version !== r.version).map(([name]) => name)
    const removed = [...prev.keys()].filter((name) => !next.has(name))
    if (changed.length > 0 || removed.length > 0) out.set(type, { changed, removed })
  }
  return out
}

/** Providers that served `config(o)` once: them, that translation, and what they served. */
function serving(o: Parameters<typeof config>[0] = {}) {
  const p = createIstiodProviders()
  const t1 = run(config(o))
  p.update(t1)
  return { p, t1, before: served(p) }
}

function translateAfter(previous: Translation, yaml: string): Translation {
  return run(yaml, { allocations: previous.allocations })
}

t.test('the first update encodes everything and reports every name as changed', async (t) => {
  const p = createIstiodProviders()
  const t1 = run(config())
  const u = p.update(t1)
  const after = served(p)
  const total = [...after.values()].reduce((n, m) => n + m.size, 0)
  t.equal(u.encoded, total)
  t.same([...u.changes.keys()].sort(), [TYPE_URL.address, TYPE_URL.authorization, TYPE_URL.waypointConfig].sort())
  t.same(u.changes, versionDiff(new Map(), after))
  t.equal(after.get(TYPE_URL.authorization)!.size, 2)
  t.equal(p.current, t1)
})

t.test('one policy change: one resource encoded, only its name reported, every other resource kept as it was', async (t) => {
  const { p, t1, before } = serving()
  const t2 = translateAfter(t1, config({ webPort: 9090 }))
  const u = p.update(t2)
  const after = served(p)

  t.equal(u.encoded, 1, 'only the changed policy is encoded again')
  t.same(u.changes, new Map([[TYPE_URL.authorization, { changed: ['apps/web'], removed: [] }]]))
  t.same(u.changes, versionDiff(before, after), 'the reported names are exactly the ones whose version changed')
  for (const [type, next] of after) {
    for (const [name, r] of next) {
      if (name === 'apps/web') t.not(r.version, before.get(type)!.get(name)!.version)
      else t.equal(r, before.get(type)!.get(name), `${name}: same resource (bytes and version) as before`)
    }
  }
  // An untouched type's map is the very same object: the server sees nothing to diff there.
  t.equal(p.providers[0]!.resources(PEER.nodeId, PEER), p.providers[0]!.resources(PEER.nodeId, PEER))

  // What is served is what a full re-encode of the same translation serves: the same deltas go out.
  const fresh = createIstiodProviders()
  fresh.update(t2)
  const full = served(fresh)
  t.same([...after.keys()], [...full.keys()])
  for (const [type, m] of full) {
    t.same([...after.get(type)!.keys()], [...m.keys()], `${type}: same names in the same order`)
    for (const [name, r] of m) {
      const mine = after.get(type)!.get(name)!
      t.equal(mine.version, r.version, `${name}: same version`)
      t.ok(Buffer.from(mine.bytes).equals(Buffer.from(r.bytes)), `${name}: same bytes`)
    }
  }
})

t.test('an unchanged re-translation encodes nothing, reports nothing and keeps every map', async (t) => {
  const { p, t1 } = serving()
  const maps = p.providers.map((x) => x.resources(PEER.nodeId, PEER))
  const u = p.update(translateAfter(t1, config()))
  t.equal(u.encoded, 0)
  t.equal(u.changes.size, 0)
  p.providers.forEach((x, i) => t.equal(x.resources(PEER.nodeId, PEER), maps[i], x.typeUrl))
})

t.test('removals: a deleted policy and a scaled-down pod are reported as removed; what referred to them is re-encoded', async (t) => {
  const { p, t1, before } = serving({ webReplicas: 2 })
  const u = p.update(translateAfter(t1, config({ webReplicas: 1, dbPolicy: false })))
  const after = served(p)
  t.same(u.changes, versionDiff(before, after))
  t.same(u.changes.get(TYPE_URL.authorization), { changed: [], removed: ['apps/db'] })
  const address = u.changes.get(TYPE_URL.address)!
  t.equal(address.changed.length, 1)
  t.match(address.changed[0], /^Kubernetes\/\/Pod\/apps\/db-/, "the db pod's policy list lost apps/db")
  t.equal(address.removed.length, 1)
  t.match(address.removed[0], /^Kubernetes\/\/Pod\/apps\/web-/)
  t.same(u.changes.get(TYPE_URL.waypointConfig)?.changed, ['apps/waypoint'], "the waypoint's config lists the web endpoints")
  t.equal(u.encoded, 2, 'the db pod and the waypoint config, nothing else')
})

t.test('a throwing encoder leaves the last good state served', async (t) => {
  const { p, t1, before } = serving()
  const bad = translateAfter(t1, config({ webPort: 9090 }))
  // A policy the encoder cannot take (a rule that is not an object).
  const broken: Translation = { ...bad, mesh: { ...bad.mesh, policies: [{ ...bad.mesh.policies[0]!, rules: [null as never] }] } }
  t.throws(() => p.update(broken))
  t.same(versionDiff(before, served(p)), new Map())
  t.equal(p.current, t1)
  // And the next good update is diffed against what is served, not against the failed one.
  const u = p.update(bad)
  t.same(u.changes, new Map([[TYPE_URL.authorization, { changed: ['apps/web'], removed: [] }]]))
})
