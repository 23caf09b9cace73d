import t from 'tap'
import {
  b3FromTraceContext,
  childTraceContext,
  formatTraceparent,
  generateTraceContext,
  isSampled,
  newRequestId,
  parseTraceparent,
  type RandomBytes,
} from '../../../src/observability/trace-context.js'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const SPAN = '00f067aa0ba902b7'

/** Deterministic "random": each call returns the next prepared buffer. */
function scripted(...hex: string[]): RandomBytes {
  return () => Buffer.from(hex.shift()!, 'hex')
}

t.test('parseTraceparent table', async (t) => {
  const table: Array<[string, string | undefined, { traceId: string; spanId: string; flags: number } | undefined]> = [
    ['W3C example, sampled', `00-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, flags: 1 }],
    ['not sampled', `00-${TRACE}-${SPAN}-00`, { traceId: TRACE, spanId: SPAN, flags: 0 }],
    ['unknown flags kept', `00-${TRACE}-${SPAN}-ff`, { traceId: TRACE, spanId: SPAN, flags: 255 }],
    ['surrounding whitespace', `  00-${TRACE}-${SPAN}-01 `, { traceId: TRACE, spanId: SPAN, flags: 1 }],
    ['future version with more fields', `cc-${TRACE}-${SPAN}-01-what-ever`, { traceId: TRACE, spanId: SPAN, flags: 1 }],
    ['future version, exact length', `01-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, flags: 1 }],
    ['missing', undefined, undefined],
    ['empty', '', undefined],
    ['version ff', `ff-${TRACE}-${SPAN}-01`, undefined],
    ['version 00 with extra fields', `00-${TRACE}-${SPAN}-01-extra`, undefined],
    ['future version, junk after without dash', `cc-${TRACE}-${SPAN}-01x`, undefined],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`, undefined],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`, undefined],
    ['all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`, undefined],
    ['short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`, undefined],
    ['short span id', `00-${TRACE}-${SPAN.slice(1)}-01`, undefined],
    ['non-hex', `00-${TRACE.slice(0, 31)}g-${SPAN}-01`, undefined],
    ['one-digit flags', `00-${TRACE}-${SPAN}-1`, undefined],
    ['wrong separators', `00_${TRACE}_${SPAN}_01`, undefined],
  ]
  for (const [name, header, want] of table) t.same(parseTraceparent(header), want, name)
})

t.test('format and parse round-trip', async (t) => {
  const ctx = { traceId: TRACE, spanId: SPAN, flags: 1 }
  t.equal(formatTraceparent(ctx), `00-${TRACE}-${SPAN}-01`)
  t.equal(formatTraceparent({ ...ctx, flags: 0 }), `00-${TRACE}-${SPAN}-00`)
  t.same(parseTraceparent(formatTraceparent(ctx)), ctx)
})

t.test('generate: random ids, sampled by default, never all zero', async (t) => {
  const a = generateTraceContext()
  const b = generateTraceContext()
  t.match(a.traceId, /^[0-9a-f]{32}$/)
  t.match(a.spanId, /^[0-9a-f]{16}$/)
  t.not(a.traceId, b.traceId)
  t.ok(isSampled(a))
  t.notOk(isSampled(generateTraceContext({ sampled: false })))
  t.same(parseTraceparent(formatTraceparent(a)), a)

  const retried = generateTraceContext({ randomBytes: scripted('00'.repeat(16), TRACE, '00'.repeat(8), SPAN) })
  t.same(retried, { traceId: TRACE, spanId: SPAN, flags: 1 }, 'all-zero draws are drawn again')
  t.throws(() => generateTraceContext({ randomBytes: scripted('abcd') }), { code: 'TRACE_RANDOM_SIZE' })
})

t.test('child keeps trace and flags, new span, remembers its parent', async (t) => {
  const parent = parseTraceparent(`00-${TRACE}-${SPAN}-00`)!
  const child = childTraceContext(parent, scripted('b7ad6b7169203331'))
  t.same(child, { traceId: TRACE, spanId: 'b7ad6b7169203331', parentSpanId: SPAN, flags: 0 })
  t.equal(formatTraceparent(child), `00-${TRACE}-b7ad6b7169203331-00`)
  const real = childTraceContext(parent)
  t.equal(real.traceId, TRACE)
  t.not(real.spanId, SPAN)
})

t.test('B3 from a trace context', async (t) => {
  const root = { traceId: TRACE, spanId: SPAN, flags: 1 }
  t.same(b3FromTraceContext(root), {
    'x-b3-traceid': TRACE,
    'x-b3-spanid': SPAN,
    'x-b3-sampled': '1',
    b3: `${TRACE}-${SPAN}-1`,
  })
  const child = childTraceContext({ ...root, flags: 0 }, scripted('b7ad6b7169203331'))
  t.same(b3FromTraceContext(child), {
    'x-b3-traceid': TRACE,
    'x-b3-spanid': 'b7ad6b7169203331',
    'x-b3-parentspanid': SPAN,
    'x-b3-sampled': '0',
    b3: `${TRACE}-b7ad6b7169203331-0-${SPAN}`,
  })
})

t.test('x-request-id is a v4 UUID, fresh each time (over refills of the random pool)', async (t) => {
  const id = newRequestId()
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.not(newRequestId(), id)
  // 16 bytes an id: 1000 ids go through the 4 KiB pool several times.
  const ids = new Set<string>()
  const malformed: string[] = []
  const variants = new Set<string>()
  for (let i = 0; i < 1000; i++) {
    const r = newRequestId()
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(r)) malformed.push(r)
    variants.add(r[19]!)
    ids.add(r)
  }
  t.same(malformed, [], 'version 4, variant 10')
  t.equal(ids.size, 1000, 'no id repeats')
  t.equal(variants.size, 4, 'the variant digit keeps its two random bits')
})

t.test('ids from the pooled source: read in place, each its own (over a refill of the pool)', async (t) => {
  const ids = new Set<string>()
  const malformed: string[] = []
  // 24 bytes a context: 1000 of them go through the 4 KiB pool several times.
  for (let i = 0; i < 1000; i++) {
    const c = generateTraceContext()
    if (!/^[0-9a-f]{32}$/.test(c.traceId) || !/^[0-9a-f]{16}$/.test(c.spanId)) malformed.push(`${c.traceId}/${c.spanId}`)
    ids.add(c.traceId).add(c.spanId)
  }
  t.same(malformed, [], '32 and 16 hex digits')
  t.equal(ids.size, 2000, 'no id repeats')
})
