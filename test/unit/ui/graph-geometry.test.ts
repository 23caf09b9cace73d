// The dashboard test's judge of a drawing (test/helpers/graph-geometry.ts), on hand-written DOM: it
// must find overlapping labels, a label on its line or by the wrong edge, text out of its box, a
// shrunken drawing, and a page that exposes no geometry at all.
import t from 'tap'
import { graphProblems, readDrawnGraph } from '../../helpers/graph-geometry.js'

// Points every 10 px or so along straight runs, as the page samples its paths.
const along = (...corners: [number, number][]): string =>
  corners
    .slice(1)
    .flatMap(([x2, y2], i) => {
      const [x1, y1] = corners[i]!
      const n = Math.ceil(Math.hypot(x2 - x1, y2 - y1) / 10)
      return Array.from(
        { length: n + (i === corners.length - 2 ? 1 : 0) },
        (_, k) => `${x1 + ((x2 - x1) * k) / n},${y1 + ((y2 - y1) * k) / n}`,
      )
    })
    .join(' ')

const dom = (o: { scale?: number; labelB?: string; textA?: string } = {}): string =>
  [
    `<svg width="400" height="200" id="graph-svg" data-scale="${o.scale ?? 1}">`,
    `<g class="edge ok" data-edge="a-&gt;b" data-points="${along([100, 50], [200, 50])}">`,
    `<g class="edge ok" data-edge="a-&gt;c" data-points="${along([100, 50], [150, 150], [200, 150])}">`,
    '<g class="node workload" data-node="a" data-box="10 30 90 40" data-text-boxes="20 35 40 14,20 52 50 12">',
    `<g class="node workload" data-node="b" data-box="200 30 90 40" data-text-boxes="${o.textA ?? '210 35 40 14'}">`,
    '<g class="node workload" data-node="c" data-box="200 130 90 40" data-text-boxes="210 135 40 14">',
    '<g class="edge ok" data-label-for="a-&gt;b" data-bbox="120 30 60 16">',
    `<g class="edge ok" data-label-for="a-&gt;c" data-bbox="${o.labelB ?? '160 110 60 16'}">`,
  ].join('')

t.test('a clean drawing', async (t) => {
  const g = readDrawnGraph(dom())
  t.same(readDrawnGraph(dom().replaceAll('&gt;', '>')), g, 'the same with `>` unescaped in attribute values')
  t.equal(g.labels.length, 2)
  t.same(g.edges[1]!.points[0], { x: 100, y: 50 })
  t.same(g.edges[1]!.points.at(-1), { x: 200, y: 150 })
  t.same(graphProblems(g, 0.9), [])
})

t.test('what it catches', async (t) => {
  t.match(graphProblems(readDrawnGraph(dom({ labelB: '130 36 60 16' })), 0.9).join('\n'), /labels overlap: a->b \/ a->c/)
  t.match(graphProblems(readDrawnGraph(dom({ labelB: '120 90 60 16' })), 0.9).join('\n'), /label a->c sits on its own line/)
  t.match(
    graphProblems(readDrawnGraph(dom({ labelB: '140 60 20 10' })), 0.9).join('\n'),
    /label a->c is nearer to edge a->b than to its own/,
  )
  t.match(graphProblems(readDrawnGraph(dom({ labelB: '230 60 40 16' })), 0.9).join('\n'), /label a->c is \d+ px from its edge/)
  t.match(graphProblems(readDrawnGraph(dom({ labelB: '250 140 30 10' })), 0.9).join('\n'), /label a->c overlaps node c/)
  t.match(graphProblems(readDrawnGraph(dom({ textA: '210 35 120 14' })), 0.9).join('\n'), /node b: its text .* leaves its box/)
  t.match(graphProblems(readDrawnGraph(dom({ scale: 0.7 })), 0.9).join('\n'), /drawn at 0.7 of its size/)
  t.match(
    graphProblems(readDrawnGraph('<svg id="graph-svg" data-scale="1"><g data-edge="a-&gt;b">'), 0.9).join('\n'),
    /0 edges with points and 0 labels/,
  )
})
