// translateIncremental with its memo, fed interned snapshots, gives exactly what a fresh translate
// gives, at every step of a random sequence of changes (policies of every scope, targetRefs, pod
// labels, Services, waypoints, PeerAuthentication, routes, files re-read unchanged), on a generated
// mesh (bench:istiod's generator, small) with the bookinfo and seed fixtures. "Exactly" is sameValue
// (order-sensitive, Maps included: what the providers encode), and analysis gives the same messages.
import t, { type Test } from 'tap'
import { generateIstiodConfig, namespaceYaml } from '../../../../src/bench/istiod-mesh.js'
import { analyze, analyzeIncremental, type AnalysisMemo } from '../../../../src/istiod/analysis/index.js'
import { sameValue } from '../../../../src/istiod/encoded-resources.js'
import { internSnapshot } from '../../../../src/istiod/resources/intern.js'
import type { ConfigSnapshot } from '../../../../src/istiod/resources/model.js'
import { parseConfigFiles } from '../../../../src/istiod/resources/snapshot.js'
import {
  translate,
  translateIncremental,
  type AllocationTable,
  type TranslateMemo,
  type TranslateOptions,
  type Translation,
} from '../../../../src/istiod/translate/index.js'
import { deployment, fixture, service, waypoint } from './helpers.js'

/** mulberry32: a small seeded generator, so a failing sequence replays. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const refsLine = (refs: string | undefined): string => (refs === undefined ? '' : `  targetRefs: [${refs}]\n`)

const policy = (
  name: string,
  ns: string,
  o: { selector?: string | undefined; deny?: boolean; port?: number; http?: boolean; refs?: string; sa?: string } = {},
) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${o.selector === undefined ? '' : `  selector: {matchLabels: {app: ${o.selector}}}\n`}${refsLine(o.refs)}  action: ${o.deny === true ? 'DENY' : 'ALLOW'}
  rules:
    - from: [{source: {principals: ["cluster.local/ns/${ns}/sa/${o.sa ?? 'waypoint'}"]}}]
      to: [{operation: {ports: ["${o.port ?? 8080}"]${o.http === true ? ', methods: ["GET"]' : ''}}}]
---
`

const peerAuthentication = (name: string, ns: string, mode: string, selector?: string) => `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: ${ns}}
spec:
${selector === undefined ? '' : `  selector: {matchLabels: {app: ${selector}}}\n`}  mtls: {mode: ${mode}}
${selector === undefined ? '' : '  portLevelMtls: {"8080": {mode: PERMISSIVE}}\n'}---
`

const pod = (name: string, ns: string, labels: Record<string, string>) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: ${JSON.stringify(labels)}}
spec:
  serviceAccountName: ${name}
  containers: [{name: main, image: app, ports: [{name: http, containerPort: 8080}]}]
---
`

const virtualService = (name: string, ns: string, host: string, weight: number) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${host}]
  http:
    - route:
        - destination: {host: ${host}}
          weight: ${weight}
        - destination: {host: ${host}}
          weight: ${100 - weight}
---
`

/** The generated mesh (namespaces ns-00.., svc-0.., policy-0..) with bookinfo (default) and the seed. */
function startFiles(services = 30): {
  files: Map<string, string>
  changePolicy: (index: number, port: number) => void
  policyCount: number
} {
  const mesh = generateIstiodConfig({ services, podsPerService: 2, policies: services - 6 })
  const files = new Map<string, string>()
  for (const f of mesh.files) files.set(f.file, f.text)
  // The generated global ALLOW admits every waypoint, which would hide the waypoint-principal
  // findings; it comes back when a step changes policy-0.
  files.delete('istio-system-policies.yaml')
  fixture('bookinfo').forEach((text, i) => files.set(`bookinfo-${i}.yaml`, text))
  fixture('seed').forEach((text, i) => files.set(`seed-${i}.yaml`, text))
  return {
    files,
    policyCount: mesh.policyCount,
    changePolicy: (index, port) => {
      const f = mesh.changePolicy(index, port)
      files.set(f.file, f.text)
    },
  }
}

type Change = (pick: <T>(list: readonly T[]) => T, step: number) => string

function changes(state: ReturnType<typeof startFiles>): Change[] {
  const { files } = state
  const namespaces = ['ns-00', 'ns-01', 'ns-02', 'default']
  const apps = ['svc-0', 'svc-3', 'svc-11', 'svc-25', 'reviews', 'ratings', 'extra-a']
  const put = (file: string, text: string): string => {
    files.set(file, text)
    return `put ${file}`
  }
  const drop = (prefix: string, pick: <T>(list: readonly T[]) => T): string => {
    const mine = [...files.keys()].filter((f) => f.startsWith(prefix))
    if (mine.length === 0) return `nothing to remove (${prefix})`
    const f = pick(mine)
    files.delete(f)
    return `remove ${f}`
  }
  return [
    // A generated policy's content changes (its marker port), as bench:istiod does.
    (pick, step) => {
      const i = pick(Array.from({ length: state.policyCount }, (_, k) => k))
      state.changePolicy(i, 21_000 + step)
      return `change policy-${i}`
    },
    (pick, step) =>
      put(
        `ap-sel-${pick([1, 2, 3])}.yaml`,
        policy(`sel-${step % 3}`, pick(namespaces), { selector: pick(apps), deny: pick([true, false]), http: pick([true, false]) }),
      ),
    (pick, step) => put(`ap-ns-${pick([1, 2])}.yaml`, policy(`ns-wide-${step % 2}`, pick(namespaces), { port: 9000 + step })),
    (pick, step) =>
      put(`ap-root-${pick([1, 2])}.yaml`, policy(`root-${step % 2}`, 'istio-system', { selector: pick([undefined, ...apps]) })),
    (pick, step) =>
      put(
        `ap-ref-${pick([1, 2])}.yaml`,
        policy(`ref-${step % 2}`, pick(['default', 'ns-00']), {
          refs: pick(['{kind: Service, group: "", name: reviews}', '{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}']),
          http: true,
          port: 9100 + step,
        }),
      ),
    // An ALLOW policy on pods behind bookinfo's reviews waypoint, admitting that waypoint or not.
    (pick, step) =>
      put(
        'ap-reviews.yaml',
        policy(`reviews-${step % 2}`, 'default', {
          selector: pick(['reviews', 'ratings']),
          sa: pick(['reviews-waypoint', 'bookinfo-reviews']),
        }),
      ),
    (pick) => drop('ap-', pick),
    // Pods: a bare Pod whose labels change (which policies and Services select it), or a Deployment's template.
    (pick) => put('pod-x.yaml', pod('pod-x', pick(namespaces), { app: pick(apps), tier: pick(['a', 'b']) })),
    (pick) =>
      put(
        'deploy-extra.yaml',
        deployment('extra-a', { ns: pick(namespaces), labels: { tier: pick(['a', 'b']) }, replicas: pick([1, 2, 3]) }),
      ),
    (pick) => put(`svc-extra-${pick([1, 2])}.yaml`, service(pick(['extra-a', 'extra-b']), { ns: pick(namespaces), app: pick(apps) })),
    (pick) => drop('svc-extra-', pick),
    (pick) => drop('deploy-extra', pick),
    // Waypoints: a namespace gets one (and uses it), or loses it; or a waypoint nobody uses comes and goes.
    (pick) => {
      const ns = pick(['ns-00', 'ns-01'])
      const text = files.get(`${ns}.yaml`) ?? ''
      const [plain, withWaypoint] = [namespaceYaml(ns, false), namespaceYaml(ns, true)]
      return put(
        `${ns}.yaml`,
        text.startsWith(withWaypoint) ? plain + text.slice(withWaypoint.length) : withWaypoint + text.slice(plain.length),
      )
    },
    (pick) =>
      put(
        `wp-${pick([1, 2])}.yaml`,
        waypoint(pick(['spare', 'reviews-waypoint']), { ns: pick(['ns-01', 'default']), for: pick(['service', 'all']) }),
      ),
    (pick) => drop('wp-', pick),
    // A Namespace alone changes: enrolment, or the waypoint it names (existing or not).
    (pick) => {
      const labels = pick([
        {},
        { 'istio.io/dataplane-mode': 'ambient' },
        { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': pick(['reviews-waypoint', 'waypoint', 'missing']) },
      ])
      return put('bookinfo-2.yaml', `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels: ${JSON.stringify(labels)}\n`)
    },
    (pick) => {
      const ns = pick(['ns-02', 'ns-03'])
      const text = files.get(`${ns}.yaml`) ?? ''
      const [on, off] = ['"istio.io/dataplane-mode":"ambient"', '"istio.io/dataplane-mode":"none"']
      return put(`${ns}.yaml`, text.includes(on) ? text.replace(on, off) : text.replace(off, on))
    },
    (pick) => put('pa.yaml', peerAuthentication('pa', pick(namespaces), pick(['STRICT', 'PERMISSIVE', 'DISABLE']))),
    (pick) => put('pa-sel.yaml', peerAuthentication('pa-sel', pick(namespaces), pick(['STRICT', 'PERMISSIVE']), pick(apps))),
    (pick) => put('pa-root.yaml', peerAuthentication('default', 'istio-system', pick(['STRICT', 'PERMISSIVE']))),
    (pick) => drop('pa', pick),
    (pick) => put('vs.yaml', virtualService('vs-x', pick(['default', 'ns-00']), pick(['reviews', 'ratings', 'svc-0']), pick([10, 50, 90]))),
    (pick) => drop('vs.yaml', pick),
    // A file read again with the same text: every object in it is new, and nothing changed.
    (pick) => {
      const f = pick([...files.keys()])
      files.set(f, `${files.get(f) ?? ''}`)
      return `re-read ${f}`
    },
  ]
}

interface Side {
  snapshot: ConfigSnapshot | undefined
  memo: TranslateMemo | undefined
  analysis: AnalysisMemo | undefined
  allocations: AllocationTable | undefined
}

function runSequence(t: Test, seed: number, steps: number, options: Omit<TranslateOptions, 'allocations'>, services = 30): void {
  const rnd = random(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!
  const state = startFiles(services)
  const all = changes(state)
  const inc: Side = { snapshot: undefined, memo: undefined, analysis: undefined, allocations: undefined }
  let fullAllocations: AllocationTable | undefined
  let reusedTopology = 0
  let reusedWorkloads = 0
  let reusedAnalyzers = 0
  const analysisOptions = {
    ...(options.rootNamespace === undefined ? {} : { rootNamespace: options.rootNamespace }),
    ...(options.trustDomain === undefined ? {} : { trustDomain: options.trustDomain }),
  }
  for (let step = 0; step <= steps; step++) {
    const what = step === 0 ? 'start' : pick(all)(pick, step)
    const parsed = parseConfigFiles([...state.files].map(([file, text]) => ({ file, text })))
    const snapshot = internSnapshot(parsed.snapshot, inc.snapshot)
    const before = inc.memo
    const incremental = translateIncremental(
      snapshot,
      { ...options, ...(inc.allocations ? { allocations: inc.allocations } : {}) },
      inc.memo,
    )
    const full = translate(parsed.snapshot, { ...options, ...(fullAllocations ? { allocations: fullAllocations } : {}) })
    if (!same(t, incremental.translation, full, `step ${step} (${what})`)) return
    const analyzed = analyzeIncremental(snapshot, parsed.messages, incremental.translation, analysisOptions, inc.analysis)
    const b = analyze(parsed.snapshot, parsed.messages, full, analysisOptions)
    if (!t.same(analyzed.messages, b, `step ${step} (${what}): analysis`)) return
    if (inc.analysis !== undefined && [...analyzed.memo.runs].some(([name, run]) => inc.analysis?.runs.get(name) === run)) reusedAnalyzers++
    inc.analysis = analyzed.memo
    if (before !== undefined && incremental.memo.topology === before.topology) reusedTopology++
    if (before !== undefined && incremental.memo.workloads.perPod.some((p, i) => p === before.workloads.perPod[i])) reusedWorkloads++
    inc.snapshot = snapshot
    inc.memo = incremental.memo
    inc.allocations = incremental.translation.allocations
    fullAllocations = full.allocations
  }
  // The memo did its work: most steps touched no pod, Service or waypoint.
  t.ok(reusedTopology > steps / 4, `topology reused on ${reusedTopology} of ${steps} steps`)
  t.ok(reusedWorkloads > steps / 4, `some workloads reused on ${reusedWorkloads} of ${steps} steps`)
  t.ok(reusedAnalyzers > steps / 4, `some analyzers not run again on ${reusedAnalyzers} of ${steps} steps`)
}

function same(t: Test, a: Translation, b: Translation, what: string): boolean {
  if (sameValue(a, b) && JSON.stringify(a) === JSON.stringify(b)) return t.pass(what)
  // Show where: field by field (t.same prints the difference).
  t.same(a.mesh.workloads, b.mesh.workloads, `${what}: workloads`)
  t.same(a.mesh.services, b.mesh.services, `${what}: services`)
  t.same(a.mesh.policies, b.mesh.policies, `${what}: policies`)
  t.same(a.waypoints, b.waypoints, `${what}: waypoints`)
  t.same(a.allocations, b.allocations, `${what}: allocations`)
  t.same(a.messages, b.messages, `${what}: messages`)
  t.same(a.sidecars, b.sidecars, `${what}: sidecars`)
  return t.fail(`${what}: incremental differs from a full translation`)
}

t.test('incremental translation equals a full one after every change (3 seeds × 60 steps)', async (t) => {
  for (const seed of [1, 2, 3]) await t.test(`seed ${seed}`, async (t) => runSequence(t, seed, 60, { nodes: 3 }))
})

t.test('with sidecar configs and another root namespace and trust domain', async (t) => {
  runSequence(t, 7, 12, { nodes: 2, sidecars: true, trustDomain: 'example.org', rootNamespace: 'mesh-root' }, 12)
})

t.test('a memo made under other options is not used', async (t) => {
  const { files } = startFiles()
  const parsed = parseConfigFiles([...files].map(([file, text]) => ({ file, text })))
  const first = translateIncremental(parsed.snapshot, { nodes: 3 }, undefined)
  const other = translateIncremental(parsed.snapshot, { nodes: 4 }, first.memo)
  t.not(other.memo.topology, first.memo.topology, 'the topology is recomputed for another node count')
  t.ok(sameValue(other.translation, translate(parsed.snapshot, { nodes: 4 })), 'and equals a fresh translation')
  const again = translateIncremental(parsed.snapshot, { nodes: 4, allocations: other.translation.allocations }, other.memo)
  t.equal(again.memo.topology, other.memo.topology, 'the same snapshot and its own allocations reuse the topology')
  t.equal(again.translation.mesh.workloads[0], other.translation.mesh.workloads[0], 'and keep each Workload object')
})
