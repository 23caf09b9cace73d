// The dashboard's graph layout (src/ui/page/layout.js, pure), with estimated text widths: bookinfo
// with its waypoint drawn as a hop, a wide fan of two-line (denied) labels, a skip and a back edge.
// For each: no two labels overlap, no label overlaps a node, no label sits on its own line, each
// label's nearest edge is its own and it stays near the middle of it, node boxes hold their text.
import t, { type Test } from 'tap'
import {
  boxesOverlap,
  distanceBoxToPolyline,
  estimateText,
  kindText,
  labelLines,
  layoutGraph,
  PAD_X,
  polylineHitsBox,
  shortName,
  type GraphLayout,
} from '../../../src/ui/page/layout.js'
import type { EdgeHealth, Graph, GraphEdge, GraphNode } from '../../../src/ui/graph.js'

const wl = (name: string, kind: GraphNode['kind'] = 'workload'): GraphNode => ({
  id: `wl:default/${name}`,
  kind,
  namespace: 'default',
  name,
})
const svc = (name: string, waypoint?: string): GraphNode => ({
  id: `svc:default/${name}`,
  kind: 'service',
  namespace: 'default',
  name,
  ...(waypoint ? { waypoint } : {}),
})
function edge(
  source: GraphNode,
  target: GraphNode,
  o: { rate?: number; health?: EdgeHealth; deniedRecent?: number; via?: boolean } = {},
): GraphEdge {
  const health = o.health ?? 'ok'
  return {
    id: `${source.id}->${target.id}`,
    source: source.id,
    target: target.id,
    protocol: o.via ? 'http' : 'tcp',
    rate: o.rate ?? 2.6,
    errorRate: health === 'ok' ? 0 : 0.25,
    health,
    mtls: true,
    viaWaypoint: o.via ?? false,
    denied: health === 'denied',
    deniedRecent: o.deniedRecent ?? 0,
    totals: { connections: 1, requests: 0, denied: 0 },
  }
}

function bookinfo(): Graph {
  const [curl, pp, ppv1, det, detv1, wp, rev, r1, r2, r3, rat, ratv1, idle] = [
    wl('curl'),
    svc('productpage'),
    wl('productpage-v1'),
    svc('details'),
    wl('details-v1'),
    wl('reviews-waypoint', 'waypoint'),
    svc('reviews', 'reviews-waypoint'),
    wl('reviews-v1'),
    wl('reviews-v2'),
    wl('reviews-v3'),
    svc('ratings'),
    wl('ratings-v1'),
    wl('sleep'),
  ]
  const via = { via: true }
  return {
    nodes: [curl!, pp!, ppv1!, det!, detv1!, wp!, rev!, r1!, r2!, r3!, rat!, ratv1!, idle!],
    edges: [
      edge(curl!, pp!),
      edge(pp!, ppv1!),
      edge(ppv1!, det!, { health: 'denied', deniedRecent: 27 }),
      edge(det!, detv1!, { health: 'denied', deniedRecent: 27 }),
      edge(ppv1!, wp!, via),
      edge(wp!, rev!, via),
      edge(rev!, r1!, { ...via, rate: 2.4 }),
      edge(rev!, r2!, { ...via, rate: 0.1 }),
      edge(rev!, r3!, { ...via, rate: 0.12, health: 'errors' }),
      edge(r2!, rat!, { rate: 0.1 }),
      edge(r3!, rat!, { rate: 0.12 }),
      edge(rat!, ratv1!, { rate: 0.22 }),
    ],
    windowSeconds: 10,
  }
}

/** Every property the page's Chromium check asserts, on the pure layout. */
function checkLayout(t: Test, l: GraphLayout, graph: Graph): void {
  const labels = l.edges.map((e) => ({ id: e.id, box: e.label }))
  const overlapping = labels.flatMap((a, i) =>
    labels
      .slice(i + 1)
      .filter((b) => boxesOverlap(a.box, b.box))
      .map((b) => `${a.id} / ${b.id}`),
  )
  t.same(overlapping, [], 'no two labels overlap')
  t.same(
    labels.filter((a) => l.nodes.some((n) => boxesOverlap(a.box, n))).map((a) => a.id),
    [],
    'no label overlaps a node',
  )
  t.same(
    l.edges.filter((e) => polylineHitsBox(e.points, e.label)).map((e) => e.id),
    [],
    'no label sits on its own line',
  )
  const near = (e: GraphLayout['edges'][number], o: GraphLayout['edges'][number]) => distanceBoxToPolyline(e.label, o.points)
  t.same(
    l.edges.filter((e) => l.edges.some((o) => o !== e && near(e, o) <= near(e, e))).map((e) => e.id),
    [],
    'each label is nearer its own edge than any other',
  )
  t.same(
    l.edges.filter((e) => near(e, e) > 24).map((e) => e.id),
    [],
    'each label stays by its edge',
  )
  const byId = new Map(graph.nodes.map((n) => [n.id, n]))
  t.same(
    l.nodes
      .filter((n) => n.w < Math.max(estimateText(shortName(n.id), 'name'), estimateText(kindText(byId.get(n.id)!), 'kind')) + 2 * PAD_X)
      .map((n) => n.id),
    [],
    'node boxes hold their text',
  )
  const nodes = l.nodes
  t.same(
    nodes.flatMap((a, i) =>
      nodes
        .slice(i + 1)
        .filter((b) => boxesOverlap(a, b))
        .map((b) => `${a.id} / ${b.id}`),
    ),
    [],
    'no two nodes overlap',
  )
  t.ok(
    [...l.nodes, ...l.edges.map((e) => e.label)].every((b) => b.x >= 0 && b.y >= 0 && b.x + b.w <= l.width && b.y + b.h <= l.height),
    'everything is inside the canvas',
  )
}

t.test('bookinfo with its waypoint: columns, straight chains, a hop through the waypoint, free labels', async (t) => {
  const g = bookinfo()
  const l = layoutGraph(g)
  checkLayout(t, l, g)
  const at = (name: string) => l.nodes.find((n) => shortName(n.id) === name)!
  const xs = ['productpage-v1', 'reviews-waypoint', 'reviews', 'reviews-v1'].map((n) => at(n).x)
  t.same(
    [...xs].sort((a, b) => a - b),
    xs,
    'productpage-v1 → waypoint → reviews → reviews-v* left to right',
  )
  t.equal(new Set(xs).size, 4)
  t.equal(at('curl').y, at('productpage').y, 'a chain is a straight line')
  t.equal(at('productpage').y, at('productpage-v1').y)
  t.equal(at('reviews').y, at('reviews-waypoint').y, 'the waypoint sits in line with the Service it serves')
  t.equal((at('reviews-v1').y + at('reviews-v2').y + at('reviews-v3').y) / 3, at('reviews').y, 'a fan is centred on its caller')
  t.ok(
    at('sleep').idle && at('sleep').y > Math.max(...l.nodes.filter((n) => !n.idle).map((n) => n.y)),
    'an idle workload goes under the graph',
  )
  t.same(l.edges.find((e) => e.id.endsWith('svc:default/details'))!.label.lines, ['DENIED ×27', '2.6 cps'])
  t.same(l.edges.find((e) => e.id.endsWith('wl:default/reviews-v3'))!.label.lines, ['0.12 rps', '25% err'])
  t.same(l.edges.find((e) => e.id.endsWith('wl:default/reviews-v1'))!.label.lines, ['2.4 rps'])
  t.same(layoutGraph(g), l, 'the same graph lays out the same')
})

t.test('a wide fan of two-line labels, a skip edge and a back edge', async (t) => {
  const src = wl('frontend')
  const targets = Array.from({ length: 9 }, (_, i) => wl(`backend-${i}`))
  const deep = [svc('a'), wl('a-v1'), svc('b'), wl('b-v1')]
  const edges = [
    ...targets.map((x, i) => edge(src, x, { health: i % 2 ? 'denied' : 'errors', deniedRecent: 1000 + i, rate: 123 })),
    edge(src, deep[0]!),
    edge(deep[0]!, deep[1]!),
    edge(deep[1]!, deep[2]!),
    edge(deep[2]!, deep[3]!),
    edge(src, deep[3]!, { rate: 0.5 }),
    edge(deep[3]!, src, { rate: 0.25 }),
  ]
  const g: Graph = { nodes: [src, ...targets, ...deep], edges, windowSeconds: 10 }
  checkLayout(t, layoutGraph(g), g)
})

t.test('labels', async (t) => {
  const e = edge(wl('a'), wl('b'), { rate: 0.004 })
  t.same(labelLines({ ...e, protocol: 'http', rate: 12.4 }), ['12 rps'])
  t.same(labelLines(e), ['0.00 cps'])
  t.same(labelLines({ ...e, health: 'errors', errorRate: 0.333 }), ['0.00 cps', '33% err'])
  t.same(labelLines({ ...e, health: 'denied', denied: true, deniedRecent: 3 }), ['DENIED ×3', '0.00 cps'])
  t.same(layoutGraph({ nodes: [], edges: [] }), { nodes: [], edges: [], idleTop: undefined, width: 12, height: 12 }, 'an empty graph')
})
