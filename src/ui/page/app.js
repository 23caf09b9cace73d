/* global document, window, fetch, URLSearchParams */
// The dashboard page: vanilla JS, no build step. Polls the server's /api/* every second and draws
// the service graph as SVG, laid out in columns by call depth (clients left, their callees to the
// right; each waypoint sits under the Service it serves; idle workloads at the bottom left).
'use strict'

const SVG = 'http://www.w3.org/2000/svg'
const NODE_W = 136
const NODE_H = 46
const COL_GAP = 236
const ROW_GAP = 74
const PAD = 24

function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.className = v
    else el.setAttribute(k, String(v))
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof window.Node ? c : String(c))
  return el
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v))
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c)
  return el
}

async function get(path) {
  const res = await fetch(path, { cache: 'no-store' })
  return { status: res.status, body: await res.json() }
}

function label(id) {
  // wl:default/productpage-v1 → productpage-v1 (namespace shown when not default)
  const rest = id.replace(/^(wl|svc):/, '')
  return rest.startsWith('default/') ? rest.slice('default/'.length) : rest
}

function fmtRate(r) {
  if (r >= 10) return r.toFixed(0)
  if (r >= 1) return r.toFixed(1)
  return r.toFixed(2)
}

// ---- layout ---------------------------------------------------------------------------------
function layout(graph) {
  const nodes = graph.nodes
  const byId = new Map(nodes.map((n) => [n.id, n]))
  const edges = graph.edges.filter((e) => byId.has(e.source) && byId.has(e.target))
  const depth = new Map(nodes.map((n) => [n.id, 0]))
  const touched = new Set(edges.flatMap((e) => [e.source, e.target]))
  for (let i = 0; i < nodes.length; i++) {
    let changed = false
    for (const e of edges) {
      const d = depth.get(e.source) + 1
      if (d > depth.get(e.target) && d < nodes.length) { depth.set(e.target, d); changed = true }
    }
    if (!changed) break
  }
  const cols = []
  const put = (n, c) => { (cols[c] = cols[c] || []).push(n) }
  const idle = []
  for (const n of nodes) {
    if (n.kind === 'waypoint') continue
    if (!touched.has(n.id)) idle.push(n)
    else put(n, depth.get(n.id))
  }
  for (let c = 0; c < cols.length; c++) if (!cols[c]) cols[c] = []
  // Order each column by the mean row of its callers (fewer crossings), then by name.
  const row = new Map()
  cols.forEach((col, c) => {
    const score = (n) => {
      const ins = edges.filter((e) => e.target === n.id && row.has(e.source)).map((e) => row.get(e.source))
      return ins.length ? ins.reduce((a, b) => a + b, 0) / ins.length : 0
    }
    if (c > 0) col.sort((a, b) => score(a) - score(b) || a.id.localeCompare(b.id))
    else col.sort((a, b) => a.id.localeCompare(b.id))
    // waypoints go right under the service they serve
    for (const wp of nodes.filter((n) => n.kind === 'waypoint')) {
      const i = col.findIndex((n) => n.kind === 'service' && n.waypoint === wp.name && n.namespace === wp.namespace)
      if (i >= 0 && !col.includes(wp)) col.splice(i + 1, 0, wp)
    }
    col.forEach((n, i) => row.set(n.id, i))
  })
  for (const wp of nodes.filter((n) => n.kind === 'waypoint')) if (!cols.some((col) => col.includes(wp))) idle.push(wp)
  const pos = new Map()
  let height = 0
  cols.forEach((col, c) => col.forEach((n, i) => {
    pos.set(n.id, { x: PAD + c * COL_GAP, y: PAD + i * ROW_GAP })
    height = Math.max(height, PAD + i * ROW_GAP + NODE_H)
  }))
  const idleTop = height + (height > 0 ? 80 : PAD)
  idle.sort((a, b) => a.id.localeCompare(b.id)).forEach((n, i) => {
    pos.set(n.id, { x: PAD + (i % 5) * (NODE_W + 20), y: idleTop + Math.floor(i / 5) * (NODE_H + 16), idle: true })
  })
  const bottom = idle.length ? idleTop + Math.ceil(idle.length / 5) * (NODE_H + 16) : height
  const width = Math.max(PAD * 2 + Math.max(cols.length, 1) * COL_GAP, PAD * 2 + Math.min(idle.length, 5) * (NODE_W + 20))
  return { pos, edges, width, height: bottom + PAD, idleTop: idle.length ? idleTop : undefined }
}

function lowestBetween(pos, xa, xb) {
  let y = 0
  for (const p of pos.values()) if (!p.idle && p.x > xa && p.x < xb) y = Math.max(y, p.y)
  return y
}

// ---- graph ----------------------------------------------------------------------------------
function lockIcon(x, y, on) {
  return s('path', { class: on ? 'lock' : 'lock off', transform: `translate(${x},${y})`, d: on ? 'M3 5V4a3 3 0 0 1 6 0v1h1v6H2V5zm1.5 0h3V4a1.5 1.5 0 0 0-3 0z' : 'M3 5V4a3 3 0 0 1 6 0h-1.5a1.5 1.5 0 0 0-3 0v1h5.5v6H2V5z' },
    s('title', {}, on ? 'mTLS' : 'not mTLS'))
}

function drawGraph(graph) {
  const box = document.getElementById('graph')
  if (!graph.nodes.length) {
    box.replaceChildren(h('p', { class: 'muted' }, 'no workloads yet'))
    return
  }
  const { pos, edges, width, height, idleTop } = layout(graph)
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, id: 'graph-svg' })
  svg.append(s('defs', {},
    ...[['ok', '#3f8f5a'], ['errors', '#d08a1c'], ['denied', '#d0312d'], ['idle', '#b7bfcc']].map(([id, color]) =>
      s('marker', { id: `arrow-${id}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        s('path', { d: 'M0 0L10 5L0 10z', fill: color })))))
  if (idleTop !== undefined) svg.append(s('text', { x: PAD, y: idleTop - 10, class: 'muted', fill: '#6b7385', 'font-size': 11 }, 'no traffic seen'))
  const edgeLayer = s('g', { class: 'edges' })
  const labelLayer = s('g', { class: 'labels' })
  for (const e of edges) {
    const a = pos.get(e.source)
    const b = pos.get(e.target)
    const x1 = a.x + NODE_W
    const y1 = a.y + NODE_H / 2
    const x2 = b.x
    const y2 = b.y + NODE_H / 2
    const back = x2 <= x1
    // An edge that skips columns dips under the nodes it would cross.
    const skip = !back && b.x - a.x > COL_GAP * 1.5
    const low = skip ? lowestBetween(pos, a.x, b.x) + NODE_H + 34 : 0
    const d = back
      ? `M${a.x + NODE_W / 2} ${a.y + NODE_H} C${a.x + NODE_W / 2} ${a.y + NODE_H + 60} ${b.x + NODE_W / 2} ${b.y + NODE_H + 60} ${b.x + NODE_W / 2} ${b.y + NODE_H}`
      : skip
        ? `M${x1} ${y1} C${x1 + 60} ${low} ${x2 - 60} ${low} ${x2} ${y2}`
        : `M${x1} ${y1} C${x1 + 70} ${y1} ${x2 - 70} ${y2} ${x2} ${y2}`
    const state = e.denied ? 'denied' : e.errorRate > 0 ? 'errors' : e.rate > 0 ? 'ok' : 'idle'
    const classes = ['edge', state]
    if (e.viaWaypoint) classes.push('via-waypoint')
    if (!e.mtls) classes.push('plaintext')
    const g = s('g', { class: classes.join(' '), 'data-edge': `${label(e.source)}->${label(e.target)}`, 'data-source': label(e.source), 'data-target': label(e.target), 'data-denied': String(e.denied), 'data-mtls': String(e.mtls), 'data-via-waypoint': String(e.viaWaypoint) })
    g.append(s('path', { class: 'line', d, 'marker-end': `url(#arrow-${state})` }))
    if (e.source.startsWith('wl:')) {
      g.classList.add('explainable')
      g.addEventListener('click', () => explainEdge(e))
    }
    const unit = e.protocol === 'http' ? 'rps' : 'cps'
    const lines = [`${fmtRate(e.rate)} ${unit}`, `${Math.round(e.errorRate * 100)}% err${e.viaWaypoint ? ' · wp' : ''}`]
    if (e.denied) lines.unshift(`DENIED ×${e.deniedRecent}`)
    const mx = back ? (a.x + b.x) / 2 + NODE_W / 2 : (x1 + x2) / 2
    const my = back ? Math.max(a.y, b.y) + NODE_H + 40 : skip ? (y1 + y2) / 8 + (low * 3) / 4 - 6 * lines.length : (y1 + y2) / 2 - 6 * lines.length
    const tw = Math.max(...lines.map((l) => l.length)) * 6.2 + 22
    const lg = s('g', { class: classes.join(' '), 'data-label-for': `${label(e.source)}->${label(e.target)}` })
    lg.append(s('rect', { class: 'label-bg', x: mx - tw / 2, y: my - 2, width: tw, height: lines.length * 13 + 4, rx: 3 }))
    lg.append(lockIcon(mx - tw / 2 + 3, my + 1, e.mtls))
    lines.forEach((t, i) => lg.append(s('text', { class: 'label', x: mx - tw / 2 + 17, y: my + 10 + i * 13 }, t)))
    g.append(s('title', {}, `${label(e.source)} → ${label(e.target)}\n${e.protocol.toUpperCase()} ${fmtRate(e.rate)}/s over ${graph.windowSeconds}s, error rate ${Math.round(e.errorRate * 100)}%\nmTLS: ${e.mtls ? 'yes' : 'NO'}${e.viaWaypoint ? '\nvia waypoint' : ''}${e.denied ? `\ndenied: ${e.deniedRecent} recently` : ''}\ntotals: ${e.totals.connections} connections, ${e.totals.requests} requests, ${e.totals.denied} denied`))
    edgeLayer.append(g)
    labelLayer.append(lg)
  }
  const nodeLayer = s('g', { class: 'nodes' })
  for (const [id, p] of pos) {
    const n = graph.nodes.find((x) => x.id === id)
    const kind = n.kind === 'service' ? (n.waypoint ? 'service · has waypoint' : 'service') : n.kind
    const g = s('g', { class: `node ${n.kind}${p.idle ? ' idle' : ''}`, 'data-node': label(id), transform: `translate(${p.x},${p.y})` })
    g.append(s('rect', { width: NODE_W, height: NODE_H, rx: n.kind === 'service' ? 22 : 6 }))
    g.append(s('text', { class: 'name', x: 12, y: 19 }, label(id)))
    g.append(s('text', { class: 'kind', x: 12, y: 35 }, kind))
    g.append(s('title', {}, `${n.kind} ${n.namespace}/${n.name}${n.waypoint ? `\nwaypoint: ${n.waypoint}` : ''}`))
    nodeLayer.append(g)
  }
  svg.append(edgeLayer, nodeLayer, labelLayer)
  box.replaceChildren(svg)
  document.getElementById('window').textContent = `rates over the last ${graph.windowSeconds}s`
}

// ---- tables ---------------------------------------------------------------------------------
function table(headers, rows) {
  if (!rows.length) return h('p', { class: 'muted' }, 'none')
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))), h('tbody', {}, rows))
}

function time(iso) {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString()
}

function flowRows(rows) {
  return rows.map((f) => h('tr', { class: f.verdict },
    h('td', { class: 'nowrap' }, time(f.time)), h('td', {}, f.reporter), h('td', {}, f.source), h('td', {}, f.destination), h('td', {}, f.service || ''),
    h('td', { class: `verdict verdict-${f.verdict}` }, f.verdict + (f.count > 1 ? ` ×${f.count}` : '')), h('td', {}, f.reason), h('td', { class: 'muted nowrap' }, f.origin)))
}

const FLOW_HEADERS = ['time', 'reporter', 'source', 'destination', 'service', 'verdict', 'reason', 'from']

function drawFlows(flows) {
  document.getElementById('flows-note').textContent = `Source: ${flows.source}. ${flows.note}.`
  document.getElementById('flows-mini').replaceChildren(table(FLOW_HEADERS, flowRows(flows.recent.slice(0, 12))))
  document.getElementById('flows-recent').replaceChildren(table(FLOW_HEADERS, flowRows(flows.recent)))
  // Sidecar mode has no ztunnel to list live connections: the API says why.
  if (flows.liveNote) {
    document.getElementById('flows-live').replaceChildren(h('p', { class: 'muted', 'data-mode': 'sidecar' }, flows.liveNote))
    return
  }
  document.getElementById('flows-live').replaceChildren(table(['node', 'reporter', 'direction', 'source', 'destination', 'security', 'started', 'bytes sent/recv'],
    flows.live.map((c) => h('tr', {}, h('td', {}, c.node), h('td', {}, c.reporter), h('td', {}, c.direction),
      h('td', {}, peer(c.src)), h('td', {}, peer(c.dst)), h('td', {}, c.securityPolicy), h('td', {}, time(c.startedAt)), h('td', {}, `${c.bytesSent} / ${c.bytesReceived}`)))))
}

function peer(p) {
  if (!p) return '?'
  return `${p.workload || p.identity || ''} ${p.addr}${p.service ? ` (${p.service})` : ''}`.trim()
}

function drawPolicies(v) {
  document.getElementById('policies').replaceChildren(table(['policy', 'action', 'scope', 'enforced by', 'applies to', 'rules', ''],
    v.policies.map((p) => h('tr', { class: p.action === 'DENY' ? 'denied' : '' },
      h('td', {}, `${p.namespace}/${p.name}${p.dryRun ? ' (dry run)' : ''}`), h('td', {}, p.action), h('td', {}, p.scope || (p.enforcedBy.startsWith('waypoint') ? 'targetRefs' : '')),
      h('td', {}, p.enforcedBy), h('td', {}, (p.appliesTo || []).join(', ')), h('td', {}, String((p.rules || []).length)),
      h('td', {}, h('details', {}, h('summary', {}, 'json'), h('pre', {}, JSON.stringify(p, null, 2))))))))
  const messages = Array.isArray(v.analysis) ? v.analysis : (v.analysis && v.analysis.messages) || []
  document.getElementById('analysis').replaceChildren(messages.length
    ? table(['file', 'code', 'level', 'object', 'message', 'fix'], messages.map((m) => h('tr', { class: m.level === 'Error' ? 'denied' : '' },
      h('td', {}, m.file ? (m.line ? `${m.file}:${m.line}` : m.file) : ''), h('td', {}, m.code || m.id || ''), h('td', {}, m.level || ''),
      h('td', {}, m.object || m.origin || m.resource || ''), h('td', {}, m.message || JSON.stringify(m)), h('td', {}, m.fix || ''))))
    : h('p', { class: 'muted' }, 'istiod reports no analysis messages'))
}

function drawCertificates(v) {
  const now = Date.now()
  if (v.note && !v.certificates.length) {
    document.getElementById('certificates').replaceChildren(h('p', { class: 'muted', 'data-mode': 'sidecar' }, v.note))
    return
  }
  document.getElementById('certificates').replaceChildren(table(['node', 'identity', 'state', 'serial', 'valid from', 'expires', 'remaining'],
    v.certificates.map((c) => {
      const left = (new Date(c.expirationTime).getTime() - now) / 3600000
      return h('tr', {}, h('td', {}, c.node), h('td', {}, c.identity), h('td', {}, c.state), h('td', { class: 'muted' }, c.serialNumber),
        h('td', {}, c.validFrom), h('td', {}, c.expirationTime), h('td', {}, Number.isFinite(left) ? `${left.toFixed(1)} h` : ''))
    })))
}

function drawStatus(st) {
  const el = document.getElementById('status')
  if (!st.running) {
    el.replaceChildren(h('span', { class: 'bad' }, st.message))
    return
  }
  const errs = st.errors.length ? h('span', { class: 'bad' }, ` · ${st.errors.join('; ')}`) : ''
  el.dataset.mode = st.mode || 'ambient'
  const proxies = st.mode === 'sidecar' ? `sidecar mode · ${(st.sidecars || []).length} sidecars` : `${st.waypoints.length} waypoint(s)`
  el.replaceChildren(`${st.nodes.length} nodes · ${st.pods.length} pods · ${proxies} · istiod ${st.istiod.debug} · polled ${time(st.polledAt)}`, errs)
}

// ---- explain --------------------------------------------------------------------------------
async function runExplain(params) {
  const out = document.getElementById('explain-result')
  const form = document.getElementById('explain-form')
  for (const k of ['from', 'to', 'method', 'path']) form.elements[k].value = params.get(k) || ''
  out.replaceChildren(h('p', { class: 'muted' }, 'asking…'))
  try {
    const { status, body } = await get(`/api/explain?${params}`)
    if (status !== 200) {
      out.replaceChildren(h('div', { class: 'message', 'data-explain-status': status }, body.message || `HTTP ${status}`))
      return
    }
    const e = body.result.explanation || {}
    out.replaceChildren(
      h('div', { class: `verdict-banner verdict-${e.verdict === 'ALLOW' ? 'allowed' : 'denied'}`, 'data-verdict': e.verdict }, `${e.verdict || ''} ${e.reason || ''}`),
      h('pre', { class: 'result' }, body.result.text || JSON.stringify(body.result, null, 2)))
  } catch (err) {
    out.replaceChildren(h('div', { class: 'message' }, String(err)))
  }
}

function explainSubmit(ev) {
  ev.preventDefault()
  const q = new URLSearchParams()
  for (const [k, v] of new window.FormData(ev.target)) if (v) q.set(k, String(v))
  window.location.hash = `explain?${q}`
}

/** Clicking an edge from a workload explains that call. */
function explainEdge(e) {
  if (!e.source.startsWith('wl:')) return
  const from = e.source.slice(3).split('/')
  const to = e.target.slice(e.target.indexOf(':') + 1).split('/')
  const q = new URLSearchParams({ from: from[1], to: e.target.startsWith('svc:') ? `${to[1]}.${to[0]}` : `deploy/${to[1]}` })
  window.location.hash = `explain?${q}`
}

// ---- tabs and polling -----------------------------------------------------------------------
function showTab(hash) {
  const [name, query] = (hash || 'graph').split('?')
  if (name === 'explain' && query) runExplain(new URLSearchParams(query))
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.tab === name)
  for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.id === `tab-${name}`)
}

async function refresh() {
  const parts = [
    ['/api/state', drawStatus], ['/api/graph', drawGraph], ['/api/flows', drawFlows],
    ['/api/policies', drawPolicies], ['/api/certificates', drawCertificates],
  ]
  await Promise.all(parts.map(async ([path, draw]) => {
    try {
      draw((await get(path)).body)
    } catch (err) {
      document.getElementById('status').textContent = `dashboard server unreachable (${err})`
    }
  }))
  document.body.dataset.ready = 'true'
}

function loop() {
  refresh().finally(() => window.setTimeout(loop, 1000))
}

document.getElementById('explain-form').addEventListener('submit', explainSubmit)
window.addEventListener('hashchange', () => showTab(window.location.hash.slice(1)))
showTab(window.location.hash.slice(1))
loop()
