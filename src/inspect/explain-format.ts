// An Explanation as people read it: the verdict first, then the path as a tree, one node per hop
// with the identity it presents or sees, each enforcement point with every policy considered
// (MATCH / NO MATCH, the deciding one marked), then the traps. Pure text from data.
import type { Explanation, Hop, HopDecision, Trap } from './explain.js'

const COMPONENT_LABEL: Record<Hop['component'], string> = {
  capture: 'capture',
  'source-ztunnel': 'source ztunnel',
  waypoint: 'waypoint',
  'destination-ztunnel': 'destination ztunnel',
  destination: 'destination',
}

export function formatExplain(e: Explanation): string[] {
  const lines: string[] = []
  const req = e.request === null ? '' : ` ${e.request.method} ${e.request.path}`
  lines.push(`${e.verdict}${e.decidedAt === null ? '' : ` at ${COMPONENT_LABEL[e.decidedAt]}`}: ${e.reason}`)
  lines.push(
    `  from:     pod ${e.source.namespace}/${e.source.pod} (${e.source.address}, ${e.source.node}) as ${e.source.identity ?? '(no identity)'}`,
  )
  lines.push(`  to:       ${e.destination.asked}${req} → ${e.destination.name} ${e.destination.address}:${e.destination.port}`)
  lines.push(`  expected: ${expectedText(e)}`)
  lines.push('')
  e.hops.forEach((hop, i) => lines.push(...formatHop(hop, i, i === e.hops.length - 1)))
  if (e.traps.length > 0) {
    lines.push('')
    lines.push(`traps (${e.traps.length}):`)
    for (const t of e.traps) lines.push(...formatTrap(t))
  }
  return lines
}

export function expectedText(e: Pick<Explanation, 'expected'>): string {
  const x = e.expected
  switch (x.kind) {
    case 'allowed':
      return 'the connection reaches the destination'
    case 'refused':
      return `refused by the ${COMPONENT_LABEL[x.by]} before any response`
    case 'http':
      return `HTTP ${x.status} from the ${COMPONENT_LABEL[x.by]}`
  }
}

function formatHop(h: Hop, index: number, last: boolean): string[] {
  const branch = last ? '└─' : '├─'
  const pipe = last ? '   ' : '│  '
  const where = [h.node === null ? undefined : h.node, h.address ?? undefined].filter((x) => x !== undefined).join(', ')
  const lines = [`${branch} ${index + 1}. ${COMPONENT_LABEL[h.component]}: ${h.name}${where === '' ? '' : ` (${where})`}`]
  if (h.peerIdentity !== null) lines.push(`${pipe}    sees:     ${h.peerIdentity}`)
  if (h.identity !== null && h.component !== 'capture') lines.push(`${pipe}    presents: ${h.identity}`)
  if (h.identity !== null && h.component === 'capture') lines.push(`${pipe}    identity: ${h.identity}`)
  lines.push(`${pipe}    ${h.action}`)
  for (const d of h.decisions) lines.push(...formatDecision(d, `${pipe}    `))
  for (const n of h.notes) lines.push(`${pipe}    note: ${n}`)
  return lines
}

function formatDecision(d: HopDecision, indent: string): string[] {
  const lines = [`${indent}${d.point}: ${d.verdict} (${d.reason})`]
  if (d.decidingPolicy !== null)
    lines.push(`${indent}  deciding: ${d.decidingPolicy}${d.decidingRule === null ? '' : `, ${d.decidingRule}`}`)
  else if (d.decidingRule !== null) lines.push(`${indent}  deciding: ${d.decidingRule}`)
  if (d.policies.length === 0 && d.point.includes('authorization')) lines.push(`${indent}  no policies apply`)
  for (const p of d.policies) {
    const mark = (p.matched ? 'MATCH' : 'NO MATCH').padEnd(8)
    const tags = [p.scope, ...(p.dryRun ? ['dry-run'] : []), ...(p.deciding ? ['deciding'] : [])].filter((t) => t !== '')
    lines.push(`${indent}  ${mark} ${p.action.padEnd(6)} ${p.policy} (${tags.join(', ')})`)
    if (p.detail !== '') lines.push(`${indent}           ${p.detail}`)
  }
  return lines
}

function formatTrap(t: Trap): string[] {
  return [`  ! ${t.code} (${COMPONENT_LABEL[t.hop]})`, `    ${t.message}`]
}
