// The waypoint's trace headers (src/l7/tracing.ts): traceHop decides the hop's ids once, and
// writeTraceHeaders sets them on the upstream request's own header object, in the order and form
// the separate B3 and W3C objects had (apps and tests read them by name; the order is what goes
// on the wire).
import t from 'tap'
import { traceHop, writeTraceHeaders, type TraceSources } from '../../../src/l7/tracing.js'
import type { RandomBytes } from '../../../src/observability/trace-context.js'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const SPAN = '00f067aa0ba902b7'
const CHILD = 'b7ad6b7169203331'

/** Deterministic sources: each randomBytes call returns the next prepared buffer; random draws are counted. */
function sources(hex: string[], draw = 0.5): TraceSources & { draws: number } {
  const randomBytes: RandomBytes = () => Buffer.from(hex.shift()!, 'hex')
  const s = {
    draws: 0,
    newRequestId: () => 'rid-new',
    randomBytes,
    random: () => {
      s.draws++
      return draw
    },
  }
  return s
}

/** The B3 headers of a root span TRACE/SPAN, in the order they are written. */
function rootB3(sampled: '0' | '1'): Array<[string, string]> {
  return [
    ['x-b3-traceid', TRACE],
    ['x-b3-spanid', SPAN],
    ['x-b3-sampled', sampled],
    ['b3', `${TRACE}-${SPAN}-${sampled}`],
  ]
}

t.test('writeTraceHeaders: names, values and order, for a started and a continued trace', async (t) => {
  const cases: Array<{
    name: string
    incoming: Record<string, string>
    percent: number | null
    draw?: number
    want: Array<[string, string]>
    draws: number
  }> = [
    {
      name: 'no trace in: a new sampled root, a new request id',
      incoming: { accept: '*/*' },
      percent: null,
      want: [['accept', '*/*'], ['x-request-id', 'rid-new'], ['traceparent', `00-${TRACE}-${SPAN}-01`], ...rootB3('1')],
      draws: 0,
    },
    {
      name: 'a new root not sampled by the percentage (draw 0.5 against 10 %)',
      incoming: {},
      percent: 10,
      want: [['x-request-id', 'rid-new'], ['traceparent', `00-${TRACE}-${SPAN}-00`], ...rootB3('0')],
      draws: 1,
    },
    {
      name: "a continued trace: the caller's request id kept, a child span, tracestate passed on, no draw",
      incoming: { 'x-request-id': 'rid-in', traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'k=v' },
      percent: 10,
      want: [
        // Headers the caller sent keep their place; new ones follow in the fixed order.
        ['x-request-id', 'rid-in'],
        ['traceparent', `00-${TRACE}-${CHILD}-01`],
        ['tracestate', 'k=v'],
        ['x-b3-traceid', TRACE],
        ['x-b3-spanid', CHILD],
        ['x-b3-sampled', '1'],
        ['b3', `${TRACE}-${CHILD}-1-${SPAN}`],
        ['x-b3-parentspanid', SPAN],
      ],
      draws: 0,
    },
    {
      name: "an invalid traceparent starts a new trace; the caller's tracestate is not attached to it",
      incoming: { traceparent: 'junk', tracestate: 'k=v' },
      percent: 50,
      draw: 0.1,
      want: [['traceparent', `00-${TRACE}-${SPAN}-01`], ['tracestate', 'k=v'], ['x-request-id', 'rid-new'], ...rootB3('1')],
      draws: 1,
    },
  ]
  for (const c of cases) {
    const src = sources(
      [TRACE, SPAN, CHILD].filter((h) => (c.incoming.traceparent?.startsWith('00-') ? h === CHILD : h !== CHILD)),
      c.draw,
    )
    const trace = traceHop(c.incoming, src, c.percent)
    // What the data path does: the forwardable copy of the caller's headers, then the trace's.
    const headers: Record<string, string | string[]> = { ...c.incoming }
    writeTraceHeaders(headers, trace)
    t.same(Object.entries(headers), c.want, c.name)
    t.equal(src.draws, c.draws, `${c.name}: sampling draws`)
    t.equal(headers['x-request-id'], trace.requestId, `${c.name}: the request id is the trace's`)
  }
})

t.test("the caller's tracestate is written with the trace it continues, not with a new one", async (t) => {
  const continued = traceHop({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: ['k=v', 'x=y'] }, sources([CHILD]), null)
  const onContinued: Record<string, string | string[]> = {}
  writeTraceHeaders(onContinued, continued)
  t.equal(onContinued.tracestate, 'k=v', 'the first tracestate, as the trace it belongs to goes on')
  const started = traceHop({ tracestate: 'k=v' }, sources([TRACE, SPAN]), null)
  const onStarted: Record<string, string | string[]> = {}
  writeTraceHeaders(onStarted, started)
  t.notOk('tracestate' in onStarted, 'a new trace has no state of its own')
})
