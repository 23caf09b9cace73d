/* global document, window, fetch, URLSearchParams */
// The dashboard page: vanilla JS modules, no build step. Polls the server's /api/* every second and
// draws the service graph as SVG where layout.js puts it (columns by call depth, clients left, traffic
// to a Service with a waypoint through the waypoint; labels where they collide with nothing; idle
// workloads at the bottom left).
import { fmtRate, kindText, layoutGraph, LABEL_GAP, LABEL_LINE, LABEL_PAD, LOCK_W, MARGIN, PAD_X, shortName } from './layout.js'

const SVG = 'http://www.w3.org/2000/svg'

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

// ---- graph ----------------------------------------------------------------------------------
function lockIcon(x, y, on) {
  return s(
    'path',
    {
      class: on ? 'lock' : 'lock off',
      transform: `translate(${x},${y})`,
      d: on ? 'M3 5V4a3 3 0 0 1 6 0v1h1v6H2V5zm1.5 0h3V4a1.5 1.5 0 0 0-3 0z' : 'M3 5V4a3 3 0 0 1 6 0h-1.5a1.5 1.5 0 0 0-3 0v1h5.5v6H2V5z',
    },
    s('title', {}, on ? 'mTLS' : 'not mTLS'),
  )
}

const measured = new Map()
/** Text width as the page's CSS draws it (a hidden SVG of the same classes). */
function measure(text, style) {
  const key = `${style} ${text}`
  if (measured.has(key)) return measured.get(key)
  let probe = document.getElementById('measure-svg')
  if (!probe) {
    probe = s(
      'svg',
      { id: 'measure-svg', width: 10, height: 10, style: 'position:absolute;left:-9999px;top:0;visibility:hidden' },
      s('g', { class: 'node' }, s('text', { class: 'name' }), s('text', { class: 'kind' })),
      s('g', { class: 'edge' }, s('text', { class: 'label' })),
    )
    document.body.append(probe)
  }
  const el = probe.querySelector(style === 'label' ? 'text.label' : `text.${style}`)
  el.textContent = text
  const w = Math.ceil(el.getComputedTextLength()) + 1
  measured.set(key, w)
  return w
}

const round1 = (n) => Math.round(n * 10) / 10
const boxAttr = (b) => [b.x, b.y, b.width ?? b.w, b.height ?? b.h].map(round1).join(' ')

function drawGraph(graph) {
  const box = document.getElementById('graph')
  if (!graph.nodes.length) {
    box.replaceChildren(h('p', { class: 'muted' }, 'no workloads yet'))
    return
  }
  const l = layoutGraph(graph, { measure })
  const svg = s('svg', { width: l.width, height: l.height, viewBox: `0 0 ${l.width} ${l.height}`, id: 'graph-svg' })
  svg.append(
    s(
      'defs',
      {},
      ...[
        ['ok', '#3f8f5a'],
        ['errors', '#d08a1c'],
        ['denied', '#d0312d'],
        ['idle', '#b7bfcc'],
      ].map(([id, color]) =>
        s(
          'marker',
          { id: `arrow-${id}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
          s('path', { d: 'M0 0L10 5L0 10z', fill: color }),
        ),
      ),
    ),
  )
  if (l.idleTop !== undefined)
    svg.append(s('text', { x: MARGIN, y: l.idleTop - 10, class: 'muted', fill: '#6b7385', 'font-size': 11 }, 'no traffic seen'))
  const byId = new Map(graph.nodes.map((n) => [n.id, n]))
  const edgeLayer = s('g', { class: 'edges' })
  const labelLayer = s('g', { class: 'labels' })
  for (const { edge: e, d, label: lb } of l.edges) {
    const state = e.health || (e.denied ? 'denied' : e.errorRate > 0 ? 'errors' : e.rate > 0 ? 'ok' : 'idle')
    const classes = ['edge', state]
    if (e.viaWaypoint) classes.push('via-waypoint')
    if (!e.mtls) classes.push('plaintext')
    const name = `${shortName(e.source)}->${shortName(e.target)}`
    const g = s('g', {
      class: classes.join(' '),
      'data-edge': name,
      'data-source': shortName(e.source),
      'data-target': shortName(e.target),
      'data-denied': String(e.denied),
      'data-mtls': String(e.mtls),
      'data-via-waypoint': String(e.viaWaypoint),
    })
    g.append(s('path', { class: 'line', d, 'marker-end': `url(#arrow-${state})` }))
    // A call from a workload is explainable; one to a waypoint is explained as the call to its Service.
    const target =
      byId.get(e.target).kind === 'waypoint'
        ? graph.edges.find((x) => x.source === e.target && x.target.startsWith('svc:'))?.target
        : e.target
    if (byId.get(e.source).kind === 'workload' && target !== undefined) {
      g.classList.add('explainable')
      g.addEventListener('click', () => explainEdge(e.source, target))
    }
    g.append(
      s(
        'title',
        {},
        `${shortName(e.source)} → ${shortName(e.target)}\n` +
          `${e.protocol.toUpperCase()} ${fmtRate(e.rate)}/s over ${graph.windowSeconds}s, error rate ` +
          `${Math.round(e.errorRate * 100)}%\nmTLS: ` +
          `${e.mtls ? 'yes' : 'NO'}${e.viaWaypoint ? '\nvia waypoint' : ''}${e.denied ? `\ndenied: ${e.deniedRecent} recently` : ''}\n` +
          `totals: ${e.totals.connections} connections, ${e.totals.requests} requests, ` +
          `${e.totals.denied} denied`,
      ),
    )
    const lg = s('g', { class: classes.join(' '), 'data-label-for': name })
    lg.append(s('rect', { class: 'label-bg', x: lb.x, y: lb.y, width: lb.w, height: lb.h, rx: 3 }))
    lg.append(lockIcon(lb.x + LABEL_PAD, lb.y + LABEL_PAD + 1.5, e.mtls))
    lb.lines.forEach((t, i) =>
      lg.append(s('text', { class: 'label', x: lb.x + LABEL_PAD + LOCK_W + LABEL_GAP, y: lb.y + LABEL_PAD + 11.5 + i * LABEL_LINE }, t)),
    )
    edgeLayer.append(g)
    labelLayer.append(lg)
  }
  const nodeLayer = s('g', { class: 'nodes' })
  for (const p of l.nodes) {
    const n = byId.get(p.id)
    const g = s('g', { class: `node ${n.kind}${p.idle ? ' idle' : ''}`, 'data-node': shortName(p.id) })
    g.append(s('rect', { x: p.x, y: p.y, width: p.w, height: p.h, rx: n.kind === 'service' ? 22 : 6 }))
    g.append(s('text', { class: 'name', x: p.x + PAD_X, y: p.y + 19 }, shortName(p.id)))
    g.append(s('text', { class: 'kind', x: p.x + PAD_X, y: p.y + 35 }, kindText(n)))
    g.append(s('title', {}, `${n.kind} ${n.namespace}/${n.name}${n.waypoint ? `\nwaypoint: ${n.waypoint}` : ''}`))
    nodeLayer.append(g)
  }
  svg.append(edgeLayer, nodeLayer, labelLayer)
  box.replaceChildren(svg)
  exposeGeometry(svg)
  document.getElementById('window').textContent = `rates over the last ${graph.windowSeconds}s`
}

/**
 * What the browser really drew, as attributes the dashboard test reads from the dumped DOM: each
 * label's and node text's box (getBBox), each edge's points, the SVG's scale on screen.
 */
function exposeGeometry(svg) {
  svg.dataset.scale = String(round1((svg.getBoundingClientRect().width / svg.viewBox.baseVal.width) * 100) / 100)
  for (const g of svg.querySelectorAll('g[data-label-for]')) g.dataset.bbox = boxAttr(g.getBBox())
  for (const g of svg.querySelectorAll('g[data-node]')) {
    g.dataset.box = boxAttr(g.querySelector('rect').getBBox())
    g.dataset.textBoxes = [...g.querySelectorAll('text')].map((t) => boxAttr(t.getBBox())).join(',')
  }
  for (const g of svg.querySelectorAll('g[data-edge]')) {
    const path = g.querySelector('path.line')
    const len = path.getTotalLength()
    g.dataset.points = Array.from({ length: 41 }, (_, i) => path.getPointAtLength((len * i) / 40))
      .map((p) => `${round1(p.x)},${round1(p.y)}`)
      .join(' ')
  }
}

// ---- tables ---------------------------------------------------------------------------------
function table(headers, rows) {
  if (!rows.length) return h('p', { class: 'muted' }, 'none')
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', {}, x)),
      ),
    ),
    h('tbody', {}, rows),
  )
}

function time(iso) {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString()
}

function flowRows(rows) {
  return rows.map((f) =>
    h(
      'tr',
      { class: f.verdict },
      h('td', { class: 'nowrap' }, time(f.time)),
      h('td', {}, f.reporter),
      h('td', {}, f.source),
      h('td', {}, f.destination),
      h('td', {}, f.service || ''),
      h('td', { class: `verdict verdict-${f.verdict}` }, f.verdict + (f.count > 1 ? ` ×${f.count}` : '')),
      h('td', {}, f.reason),
      h('td', { class: 'muted nowrap' }, f.origin),
    ),
  )
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
  document.getElementById('flows-live').replaceChildren(
    table(
      ['node', 'reporter', 'direction', 'source', 'destination', 'security', 'started', 'bytes sent/recv'],
      flows.live.map((c) =>
        h(
          'tr',
          {},
          h('td', {}, c.node),
          h('td', {}, c.reporter),
          h('td', {}, c.direction),
          h('td', {}, peer(c.src)),
          h('td', {}, peer(c.dst)),
          h('td', {}, c.securityPolicy),
          h('td', {}, time(c.startedAt)),
          h('td', {}, `${c.bytesSent} / ${c.bytesReceived}`),
        ),
      ),
    ),
  )
}

function peer(p) {
  if (!p) return '?'
  return `${p.workload || p.identity || ''} ${p.addr}${p.service ? ` (${p.service})` : ''}`.trim()
}

function drawPolicies(v) {
  document.getElementById('policies').replaceChildren(
    table(
      ['policy', 'action', 'scope', 'enforced by', 'applies to', 'rules', ''],
      v.policies.map((p) =>
        h(
          'tr',
          { class: p.action === 'DENY' ? 'denied' : '' },
          h('td', {}, `${p.namespace}/${p.name}${p.dryRun ? ' (dry run)' : ''}`),
          h('td', {}, p.action),
          h('td', {}, p.scope || (p.enforcedBy.startsWith('waypoint') ? 'targetRefs' : '')),
          h('td', {}, p.enforcedBy),
          h('td', {}, (p.appliesTo || []).join(', ')),
          h('td', {}, String((p.rules || []).length)),
          h('td', {}, h('details', {}, h('summary', {}, 'json'), h('pre', {}, JSON.stringify(p, null, 2)))),
        ),
      ),
    ),
  )
  const messages = Array.isArray(v.analysis) ? v.analysis : (v.analysis && v.analysis.messages) || []
  document.getElementById('analysis').replaceChildren(
    messages.length
      ? table(
          ['file', 'code', 'level', 'object', 'message', 'fix'],
          messages.map((m) =>
            h(
              'tr',
              { class: m.level === 'Error' ? 'denied' : '' },
              h('td', {}, m.file ? (m.line ? `${m.file}:${m.line}` : m.file) : ''),
              h('td', {}, m.code || m.id || ''),
              h('td', {}, m.level || ''),
              h('td', {}, m.object || m.origin || m.resource || ''),
              h('td', {}, m.message || JSON.stringify(m)),
              h('td', {}, m.fix || ''),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'istiod reports no analysis messages'),
  )
}

function drawCertificates(v) {
  const now = Date.now()
  if (v.note && !v.certificates.length) {
    document.getElementById('certificates').replaceChildren(h('p', { class: 'muted', 'data-mode': 'sidecar' }, v.note))
    return
  }
  document.getElementById('certificates').replaceChildren(
    table(
      ['node', 'identity', 'state', 'serial', 'valid from', 'expires', 'remaining'],
      v.certificates.map((c) => {
        const left = (new Date(c.expirationTime).getTime() - now) / 3600000
        return h(
          'tr',
          {},
          h('td', {}, c.node),
          h('td', {}, c.identity),
          h('td', {}, c.state),
          h('td', { class: 'muted' }, c.serialNumber),
          h('td', {}, c.validFrom),
          h('td', {}, c.expirationTime),
          h('td', {}, Number.isFinite(left) ? `${left.toFixed(1)} h` : ''),
        )
      }),
    ),
  )
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
  el.replaceChildren(
    `${st.nodes.length} nodes · ${st.pods.length} pods · ${proxies} · istiod ${st.istiod.debug} · polled ${time(st.polledAt)}`,
    errs,
  )
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
      h(
        'div',
        { class: `verdict-banner verdict-${e.verdict === 'ALLOW' ? 'allowed' : 'denied'}`, 'data-verdict': e.verdict },
        `${e.verdict || ''} ${e.reason || ''}`,
      ),
      h('pre', { class: 'result' }, body.result.text || JSON.stringify(body.result, null, 2)),
    )
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

/** Clicking an edge from a workload explains that call (`source`, `target`: node ids). */
function explainEdge(source, target) {
  const from = source.slice(3).split('/')
  const to = target.slice(target.indexOf(':') + 1).split('/')
  const q = new URLSearchParams({ from: from[1], to: target.startsWith('svc:') ? `${to[1]}.${to[0]}` : `deploy/${to[1]}` })
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
    ['/api/state', drawStatus],
    ['/api/graph', drawGraph],
    ['/api/flows', drawFlows],
    ['/api/policies', drawPolicies],
    ['/api/certificates', drawCertificates],
  ]
  await Promise.all(
    parts.map(async ([path, draw]) => {
      try {
        draw((await get(path)).body)
      } catch (err) {
        document.getElementById('status').textContent = `dashboard server unreachable (${err})`
      }
    }),
  )
  document.body.dataset.ready = 'true'
}

function loop() {
  refresh().finally(() => window.setTimeout(loop, 1000))
}

document.getElementById('explain-form').addEventListener('submit', explainSubmit)
window.addEventListener('hashchange', () => showTab(window.location.hash.slice(1)))
showTab(window.location.hash.slice(1))
loop()
