// The service graph's layout, pure (no DOM): the page (app.js) draws what it returns, and
// test/unit/ui/layout.test.ts checks it with the estimated text widths below. Nodes go in columns by
// call depth (clients left), each column as wide as its widest label and each gap as wide as the
// widest edge label crossing it; in a column nodes sit as close as they can to the mean height of
// their callers (straight chains, centred fans). Every edge label is anchored at its edge's middle (of its own straight run in a fan)
// and put off the line where it overlaps no node, no other label, and no other edge is nearer to
// it than its own (a label next to the wrong edge is worse than one a little further along).
// Types: layout.d.ts.

export const NODE_H = 46
export const PAD_X = 10
export const ROW_GAP = 30
export const MIN_COL_GAP = 56
export const LABEL_LINE = 15
export const LABEL_PAD = 3
export const LOCK_W = 10
export const MARGIN = 12
const LABEL_MARGIN = 6
const FAN_BEND = 36
const MIN_NODE_W = 72
export const LABEL_GAP = 3
// Text widths when nothing measures them (tests): generous per-character widths of the page's fonts.
const EM = { name: 12 * 0.66, kind: 10.5 * 0.62, label: 12 * 0.62 }

/** A width for `text` in the style `kind` ('name' | 'kind' | 'label'), by character count. */
export function estimateText(text, kind) {
  return Math.ceil(String(text).length * EM[kind])
}

export function shortName(id) {
  // wl:default/productpage-v1 → productpage-v1 (namespace shown when not default)
  const rest = id.replace(/^(wl|svc):/, '')
  return rest.startsWith('default/') ? rest.slice('default/'.length) : rest
}

/** The node's second line. (A Service's waypoint is a node of its own, on the Service's traffic.) */
export function kindText(n) {
  return n.kind
}

export function fmtRate(r) {
  if (r >= 10) return r.toFixed(0)
  if (r >= 1) return r.toFixed(1)
  return r.toFixed(2)
}

/** The lines of an edge's label: the rate; DENIED ×n above it, the error share under it. */
export function labelLines(e) {
  const lines = [`${fmtRate(e.rate)} ${e.protocol === 'http' ? 'rps' : 'cps'}`]
  if (e.health === 'denied' || (e.health === undefined && e.denied)) lines.unshift(`DENIED ×${e.deniedRecent}`)
  else if (e.health === 'errors') lines.push(`${Math.round(e.errorRate * 100)}% err`)
  return lines
}

export function boxesOverlap(a, b, margin = 0) {
  return a.x < b.x + b.w + margin && b.x < a.x + a.w + margin && a.y < b.y + b.h + margin && b.y < a.y + a.h + margin
}

function cubic(s, t) {
  const [p0, p1, p2, p3] = s
  const u = 1 - t
  const k = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t]
  return { x: k[0] * p0.x + k[1] * p1.x + k[2] * p2.x + k[3] * p3.x, y: k[0] * p0.y + k[1] * p1.y + k[2] * p2.y + k[3] * p3.y }
}

/** Points along a path of cubic segments, `n` per segment. */
export function samplePath(segments, n = 24) {
  const pts = []
  segments.forEach((s, i) => {
    for (let j = i === 0 ? 0 : 1; j <= n; j++) pts.push(cubic(s, j / n))
  })
  return pts
}

function pathAt(segments, t) {
  const k = Math.min(segments.length - 1, Math.floor(t * segments.length))
  return cubic(segments[k], t * segments.length - k)
}

function segDist(p, a, b) {
  const dx = b.x - a.x
  const dy = b.y - a.y
  const l = dx * dx + dy * dy
  const t = l === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / l))
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy))
}

/** Distance from a point to a polyline. */
export function distanceToPolyline(p, pts) {
  let d = Infinity
  for (let i = 1; i < pts.length; i++) d = Math.min(d, segDist(p, pts[i - 1], pts[i]))
  return d
}

function clip(p, q, t) {
  // One Liang–Barsky edge test: narrows t = [t0, t1], or returns false when nothing is left.
  if (p === 0) return q >= 0
  const r = q / p
  if (p < 0) {
    if (r > t[0]) t[0] = r
  } else if (r < t[1]) t[1] = r
  return t[0] <= t[1]
}

function segmentHitsBox(a, b, box) {
  const dx = b.x - a.x
  const dy = b.y - a.y
  const t = [0, 1]
  return clip(-dx, a.x - box.x, t) && clip(dx, box.x + box.w - a.x, t) && clip(-dy, a.y - box.y, t) && clip(dy, box.y + box.h - a.y, t)
}

/** Distance from a box to a polyline (0 when it passes through), to its nearest point. */
export function distanceBoxToPolyline(box, pts) {
  if (polylineHitsBox(pts, box)) return 0
  let d = Infinity
  for (const p of pts) {
    const dx = Math.max(box.x - p.x, 0, p.x - box.x - box.w)
    const dy = Math.max(box.y - p.y, 0, p.y - box.y - box.h)
    const e = Math.hypot(dx, dy)
    if (e < d) d = e
  }
  return d
}

/** Distance between two boxes (0 when they touch). */
function boxDistance(a, b) {
  return Math.hypot(Math.max(0, a.x - b.x - b.w, b.x - a.x - a.w), Math.max(0, a.y - b.y - b.h, b.y - a.y - a.h))
}

function withBounds(path) {
  const xs = path.points.map((q) => q.x)
  const ys = path.points.map((q) => q.y)
  const x = Math.min(...xs)
  const y = Math.min(...ys)
  return { ...path, bounds: { x, y, w: Math.max(...xs) - x, h: Math.max(...ys) - y } }
}

/** Whether a polyline passes through the box. */
export function polylineHitsBox(pts, box) {
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]
    const b = pts[i]
    // Both ends on one side of the box: no hit.
    if (
      (a.x < box.x && b.x < box.x) ||
      (a.x > box.x + box.w && b.x > box.x + box.w) ||
      (a.y < box.y && b.y < box.y) ||
      (a.y > box.y + box.h && b.y > box.y + box.h)
    )
      continue
    if (segmentHitsBox(a, b, box)) return true
  }
  return false
}

function pathD(segments) {
  const f = (n) => Math.round(n * 10) / 10
  return segments
    .map(
      (s, i) =>
        `${i === 0 ? `M${f(s[0].x)} ${f(s[0].y)} ` : ''}C${f(s[1].x)} ${f(s[1].y)} ${f(s[2].x)} ${f(s[2].y)} ${f(s[3].x)} ${f(s[3].y)}`,
    )
    .join(' ')
}

/**
 * Column (call depth) of every node: the longest call chain reaching it, over the edges that close
 * no cycle (a depth-first walk from the callers nobody calls, in name order, skips the edges back to
 * a node on its stack).
 */
function depths(nodes, edges) {
  const out = new Map()
  for (const e of edges) (out.get(e.source) || out.set(e.source, []).get(e.source)).push(e)
  const called = new Set(edges.map((e) => e.target))
  const ids = nodes.map((n) => n.id).sort()
  const forward = []
  const state = new Map()
  const visit = (id) => {
    state.set(id, 'open')
    for (const e of (out.get(id) || []).sort((a, b) => a.target.localeCompare(b.target))) {
      const s = state.get(e.target)
      if (s === 'open') continue
      forward.push(e)
      if (s === undefined) visit(e.target)
    }
    state.set(id, 'done')
  }
  for (const id of [...ids.filter((id) => !called.has(id)), ...ids]) if (!state.has(id)) visit(id)
  const depth = new Map(nodes.map((n) => [n.id, 0]))
  for (let i = 0; i < nodes.length; i++) {
    let changed = false
    for (const e of forward) {
      const d = depth.get(e.source) + 1
      if (d > depth.get(e.target)) {
        depth.set(e.target, d)
        changed = true
      }
    }
    if (!changed) break
  }
  return depth
}

/**
 * Places items (sorted by `want`, the y they would like) `step` apart, each as close to its wish as
 * the others allow (least squares over blocks of touching items).
 */
function placeInColumn(wants, step) {
  const blocks = []
  wants.forEach((w, i) => {
    blocks.push({ first: i, n: 1, sum: w })
    for (;;) {
      const b = blocks.at(-1)
      const a = blocks.at(-2)
      if (a === undefined) break
      const top = (x) => x.sum / x.n - ((x.n - 1) * step) / 2
      if (top(a) + a.n * step <= top(b)) break
      blocks.pop()
      // One block: its top is the mean of (wish - place × step), so the wishes just add up.
      a.sum += b.sum
      a.n += b.n
    }
  })
  const ys = []
  for (const b of blocks) {
    const top = b.sum / b.n - ((b.n - 1) * step) / 2
    for (let k = 0; k < b.n; k++) ys[b.first + k] = top + k * step
  }
  return ys
}

/**
 * @param graph {nodes, edges} as /api/graph serves it
 * @param options.measure (text, style) → width in px; default estimateText
 */
export function layoutGraph(graph, options = {}) {
  const measure = options.measure || estimateText
  const byId = new Map(graph.nodes.map((n) => [n.id, n]))
  const edges = graph.edges.filter((e) => byId.has(e.source) && byId.has(e.target))
  const touched = new Set(edges.flatMap((e) => [e.source, e.target]))
  const depth = depths(graph.nodes, edges)
  const nodeW = (n) => Math.max(MIN_NODE_W, Math.ceil(Math.max(measure(shortName(n.id), 'name'), measure(kindText(n), 'kind'))) + 2 * PAD_X)
  const labelSize = (e) => {
    const lines = labelLines(e)
    const text = Math.max(...lines.map((l) => measure(l, 'label')))
    return { lines, w: Math.ceil(LABEL_PAD + LOCK_W + LABEL_GAP + text + LABEL_PAD + 2), h: lines.length * LABEL_LINE + 2 * LABEL_PAD }
  }

  // Columns, their widths and the gaps (wide enough for the labels of the edges crossing them).
  const cols = []
  const idle = []
  for (const n of graph.nodes) {
    if (!touched.has(n.id)) idle.push(n)
    else (cols[depth.get(n.id)] = cols[depth.get(n.id)] || []).push(n)
  }
  for (let c = 0; c < cols.length; c++) cols[c] = cols[c] || []
  const colW = cols.map((col) => Math.max(MIN_NODE_W, ...col.map(nodeW)))
  const sizes = new Map(edges.map((e) => [e.id, labelSize(e)]))
  // Fans between neighbouring columns: a caller's edges spread out within the first FAN_BEND px of
  // the gap and run straight to their callees after it (callers into one callee: mirrored), so each
  // label has a straight run of its own. A gap is as wide as its widest label plus margins, and
  // with a fan, as wide as its straight runs need.
  const neighbours = edges.filter((e) => depth.get(e.target) === depth.get(e.source) + 1)
  const count = (key) => neighbours.reduce((m, e) => m.set(e[key], (m.get(e[key]) || 0) + 1), new Map())
  const fanOut = count('source')
  const fanIn = count('target')
  const shape = (e) => {
    if (depth.get(e.target) !== depth.get(e.source) + 1) return 'other'
    const out = fanOut.get(e.source) > 1
    const inn = fanIn.get(e.target) > 1
    return out && !inn ? 'fan-out' : inn && !out ? 'fan-in' : 'plain'
  }
  const gap = cols.map((_, c) => {
    const crossing = neighbours.filter((e) => depth.get(e.source) === c)
    return Math.max(MIN_COL_GAP, ...crossing.map((e) => sizes.get(e.id).w + 2 * LABEL_MARGIN + (shape(e) === 'plain' ? 0 : FAN_BEND)))
  })
  const colX = []
  cols.forEach((_, c) => {
    colX[c] = c === 0 ? 0 : colX[c - 1] + colW[c - 1] + gap[c - 1]
  })

  // Rows: each column sorted by its callers' mean height, then placed near it.
  const pos = new Map()
  const step = NODE_H + ROW_GAP
  cols.forEach((col, c) => {
    const want = (n) => {
      const ys = edges.filter((e) => e.target === n.id && pos.has(e.source)).map((e) => pos.get(e.source).y)
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : Infinity
    }
    const wants = new Map(col.map((n) => [n.id, want(n)]))
    col.sort((a, b) => wants.get(a.id) - wants.get(b.id) || a.id.localeCompare(b.id))
    // Nodes nobody left of them calls (column 0, callers further right) go below the others.
    let last = -step
    const ys = placeInColumn(
      col.map((n) => {
        const w = wants.get(n.id)
        last = Number.isFinite(w) ? w : last + step
        return last
      }),
      step,
    )
    col.forEach((n, i) => pos.set(n.id, { id: n.id, x: colX[c], y: ys[i], w: colW[c], h: NODE_H, idle: false }))
  })

  // Edge paths: neighbours by a smooth S; a skip dips under the nodes it passes; a back edge loops under both.
  const nodeBoxes = [...pos.values()]
  const paths = edges.map((e) => {
    const a = pos.get(e.source)
    const b = pos.get(e.target)
    const x1 = a.x + a.w
    const y1 = a.y + NODE_H / 2
    const x2 = b.x
    const y2 = b.y + NODE_H / 2
    let segments
    if (x2 <= x1) {
      const low = Math.max(a.y, b.y) + NODE_H + 50
      segments = [
        [
          { x: a.x + a.w / 2, y: a.y + NODE_H },
          { x: a.x + a.w / 2, y: low },
          { x: b.x + b.w / 2, y: low },
          { x: b.x + b.w / 2, y: b.y + NODE_H },
        ],
      ]
    } else if (depth.get(e.target) - depth.get(e.source) > 1) {
      const between = nodeBoxes.filter((p) => p.x > a.x && p.x < b.x)
      const low = Math.max(y1, y2, ...between.map((p) => p.y + NODE_H)) + 30
      const mx = (x1 + x2) / 2
      segments = [
        [
          { x: x1, y: y1 },
          { x: x1 + 40, y: y1 },
          { x: x1 + 40, y: low },
          { x: mx, y: low },
        ],
        [
          { x: mx, y: low },
          { x: x2 - 40, y: low },
          { x: x2 - 40, y: y2 },
          { x: x2, y: y2 },
        ],
      ]
    } else {
      const kind = shape(e)
      const bend = Math.min(FAN_BEND, (x2 - x1) / 2)
      const s = (xa, ya, xb, yb) => [
        { x: xa, y: ya },
        { x: (xa + xb) / 2, y: ya },
        { x: (xa + xb) / 2, y: yb },
        { x: xb, y: yb },
      ]
      const line = (xa, xb, y) => [
        { x: xa, y },
        { x: xa + (xb - xa) / 3, y },
        { x: xb - (xb - xa) / 3, y },
        { x: xb, y },
      ]
      segments =
        kind === 'fan-out'
          ? [s(x1, y1, x1 + bend, y2), line(x1 + bend, x2, y2)]
          : kind === 'fan-in'
            ? [line(x1, x2 - bend, y1), s(x2 - bend, y1, x2, y2)]
            : [s(x1, y1, x2, y2)]
      // The label's anchor: the middle of the edge's own straight run (of the edge when it has none).
      return withBounds({
        edge: e,
        segments,
        points: samplePath(segments),
        anchor: kind === 'fan-out' ? 0.75 : kind === 'fan-in' ? 0.25 : 0.5,
      })
    }
    return withBounds({ edge: e, segments, points: samplePath(segments), anchor: 0.5 })
  })

  // Labels, denied first, then left to right.
  const placed = []
  const from = (p) => pos.get(p.edge.source)
  const order = [...paths].sort(
    (p, q) => q.edge.denied - p.edge.denied || from(p).x - from(q).x || from(p).y - from(q).y || p.edge.id.localeCompare(q.edge.id),
  )
  const labels = new Map()
  for (const p of order) {
    const { lines, w, h } = sizes.get(p.edge.id)
    const others = paths.filter((q) => q !== p)
    const along = (ds) => ds.flatMap((d) => [p.anchor - d, p.anchor + d]).filter((t, i, a) => t > 0.05 && t < 0.95 && a.indexOf(t) === i)
    const candidates = (spread) =>
      spread.flatMap((t) => {
        const at = pathAt(p.segments, t)
        // Above, below, the four diagonals, left, right of the anchor; each a little further off.
        return [4, 9, 16, 24].flatMap((off) =>
          [
            [0, at.x - w / 2, at.y - off - h],
            [1, at.x - w / 2, at.y + off],
            [3, at.x - w, at.y - off - h],
            [3, at.x, at.y - off - h],
            [3, at.x - w, at.y + off],
            [3, at.x, at.y + off],
            [6, at.x + off, at.y - h / 2],
            [6, at.x - off - w, at.y - h / 2],
          ].map(([side, x, y]) => ({ box: { x, y, w, h }, anchor: at, base: Math.abs(t - p.anchor) * 40 + off + side })),
        )
      })
    // How far the nearest other edge is, looking only at edges that could be nearer than `limit`.
    const nearestOther = (box, limit) => {
      let d = Infinity
      for (const q of others) if (boxDistance(box, q.bounds) <= Math.min(d, limit)) d = Math.min(d, distanceBoxToPolyline(box, q.points))
      return d
    }
    const clashes = (box) => nodeBoxes.filter((n) => boxesOverlap(box, n, 3)).length + placed.filter((l) => boxesOverlap(box, l, 2)).length
    let best
    for (const spread of [along([0, 0.08, 0.16]), along([0.24, 0.32, 0.4, 0.48])]) {
      for (const c of candidates(spread)) {
        if (best !== undefined && c.base >= best.cost) continue
        if (clashes(c.box) > 0) continue
        const own = distanceBoxToPolyline(c.box, p.points)
        const cost = c.base + own
        if (own === 0 || (best !== undefined && cost >= best.cost) || nearestOther(c.box, own) <= own) continue
        best = { ...c, cost }
      }
      if (best !== undefined) break
    }
    if (best === undefined) {
      // Nowhere free: the least bad place (the tests and the page's check say so).
      for (const c of candidates(along([0, 0.08, 0.16, 0.24, 0.32, 0.4]))) {
        const own = distanceBoxToPolyline(c.box, p.points)
        const clash = clashes(c.box) + (own === 0 ? 1 : 0) + (nearestOther(c.box, own) <= own ? 1 : 0)
        const cost = c.base + own
        if (best === undefined || clash < best.clash || (clash === best.clash && cost < best.cost)) best = { ...c, clash, cost }
      }
    }
    placed.push(best.box)
    labels.set(p.edge.id, { ...best.box, lines, anchor: best.anchor })
  }

  // Shift everything so the top-left is at MARGIN, then the idle nodes under it all.
  const all = [...nodeBoxes, ...placed, ...paths.flatMap((p) => p.points.map((q) => ({ x: q.x, y: q.y, w: 0, h: 0 })))]
  const minX = all.length ? Math.min(...all.map((b) => b.x)) : 0
  const minY = all.length ? Math.min(...all.map((b) => b.y)) : 0
  const dx = MARGIN - minX
  const dy = MARGIN - minY
  const mv = (q) => ({ ...q, x: q.x + dx, y: q.y + dy })
  const outNodes = nodeBoxes.map(mv)
  const outEdges = paths.map((p) => {
    const segments = p.segments.map((s) => s.map(mv))
    const l = labels.get(p.edge.id)
    return {
      id: p.edge.id,
      edge: p.edge,
      segments,
      d: pathD(segments),
      points: p.points.map(mv),
      label: { ...mv(l), anchor: mv(l.anchor) },
    }
  })
  let bottom = all.length ? Math.max(...all.map((b) => b.y + b.h)) + dy : 0
  let right = all.length ? Math.max(...all.map((b) => b.x + b.w)) + dx : 0
  let idleTop
  if (idle.length) {
    idleTop = bottom + (outNodes.length ? 48 : MARGIN)
    let x = MARGIN
    let y = idleTop
    for (const n of idle.sort((a, b) => a.id.localeCompare(b.id))) {
      const w = nodeW(n)
      if (x > MARGIN && x + w > Math.max(right, 900)) {
        x = MARGIN
        y += NODE_H + 16
      }
      outNodes.push({ id: n.id, x, y, w, h: NODE_H, idle: true })
      x += w + 16
      right = Math.max(right, x)
    }
    bottom = y + NODE_H
  }
  return { nodes: outNodes, edges: outEdges, idleTop, width: Math.ceil(right + MARGIN), height: Math.ceil(bottom + MARGIN) }
}
