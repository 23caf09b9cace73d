// Reads what the dashboard page drew from its dumped DOM (src/ui/page/app.js exposes the browser's
// own getBBox boxes, each edge's points and the SVG's scale on screen as data- attributes) and says
// what is wrong with it: overlapping labels, a label on a node or on its own line, a label nearer
// another edge than its own, node text outside its box, text drawn too small.
import { boxesOverlap, distanceBoxToPolyline, polylineHitsBox, type Box, type Point } from '../../src/ui/page/layout.js'

export interface DrawnGraph {
  readonly scale: number
  readonly labels: readonly { readonly edge: string; readonly box: Box }[]
  readonly nodes: readonly { readonly node: string; readonly box: Box; readonly text: readonly Box[] }[]
  readonly edges: readonly { readonly edge: string; readonly points: readonly Point[] }[]
}

const attrs = (tag: string): Map<string, string> =>
  new Map([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replaceAll('&gt;', '>')]))
const box = (s: string): Box => {
  const [x, y, w, h] = s.trim().split(/\s+/).map(Number) as [number, number, number, number]
  return { x, y, w, h }
}

const point = (s: string): Point => {
  const [x, y] = s.split(',').map(Number) as [number, number]
  return { x, y }
}

/** The graph as drawn, from `chromium --dump-dom` output. */
export function readDrawnGraph(dom: string): DrawnGraph {
  // Attribute values may hold a `>` (data-edge="a->b" once the caller unescaped &gt;).
  const tags = [...dom.matchAll(/<(?:svg|g)\s(?:[^>"]|"[^"]*")*>/g)].map((m) => attrs(m[0]))
  const svg = tags.find((a) => a.get('id') === 'graph-svg')
  return {
    scale: Number(svg?.get('data-scale') ?? NaN),
    labels: tags
      .filter((a) => a.has('data-label-for') && a.has('data-bbox'))
      .map((a) => ({ edge: a.get('data-label-for')!, box: box(a.get('data-bbox')!) })),
    nodes: tags
      .filter((a) => a.has('data-node') && a.has('data-box'))
      .map((a) => ({ node: a.get('data-node')!, box: box(a.get('data-box')!), text: a.get('data-text-boxes')!.split(',').map(box) })),
    edges: tags
      .filter((a) => a.has('data-edge') && a.has('data-points'))
      .map((a) => ({ edge: a.get('data-edge')!, points: a.get('data-points')!.split(' ').map(point) })),
  }
}

/** Everything wrong with the drawing, one line each (empty: all good). `minScale`: the least on-screen scale of the drawing. */
export function graphProblems(g: DrawnGraph, minScale: number): string[] {
  const problems: string[] = []
  if (!(g.scale >= minScale))
    problems.push(`the graph is drawn at ${g.scale} of its size (text that small is unreadable; at least ${minScale})`)
  if (g.edges.length === 0 || g.labels.length !== g.edges.length)
    problems.push(`${g.edges.length} edges with points and ${g.labels.length} labels with boxes drawn (the page exposes neither?)`)
  g.labels.forEach((a, i) =>
    g.labels.slice(i + 1).forEach((b) => {
      if (boxesOverlap(a.box, b.box)) problems.push(`labels overlap: ${a.edge} / ${b.edge}`)
    }),
  )
  for (const l of g.labels) {
    for (const n of g.nodes) if (boxesOverlap(l.box, n.box)) problems.push(`label ${l.edge} overlaps node ${n.node}`)
    const own = g.edges.find((e) => e.edge === l.edge)
    if (own === undefined) {
      problems.push(`label ${l.edge} has no edge`)
      continue
    }
    if (polylineHitsBox(own.points, l.box)) problems.push(`label ${l.edge} sits on its own line`)
    const d = distanceBoxToPolyline(l.box, own.points)
    if (d > 24) problems.push(`label ${l.edge} is ${Math.round(d)} px from its edge`)
    for (const o of g.edges)
      if (o !== own && distanceBoxToPolyline(l.box, o.points) <= d)
        problems.push(`label ${l.edge} is nearer to edge ${o.edge} than to its own`)
  }
  for (const n of g.nodes) {
    const b = n.box
    for (const t of n.text) {
      if (t.x < b.x || t.y < b.y || t.x + t.w > b.x + b.w || t.y + t.h > b.y + b.h)
        problems.push(`node ${n.node}: its text (${t.x} ${t.y} ${t.w} ${t.h}) leaves its box (${b.x} ${b.y} ${b.w} ${b.h})`)
    }
  }
  return problems
}
