// Trace headers by hand (no OpenTelemetry: its 3.x line needs Node 22, and we only carry context).
// ztunnel sends a fresh random W3C `traceparent` on every HBONE CONNECT; waypoints continue the
// trace, derive B3 headers for apps that still read them, and add `x-request-id` as Envoy does.
// Pure functions; randomness is injectable so tests are tables.
import { randomFillSync } from 'node:crypto'
import { AmbientError } from '../errors.js'

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string
  /** This hop's span (the traceparent's `parent-id` field): 16 lowercase hex digits, not all zero. */
  spanId: string
  /** The span this one was made under, when we made it (kept for B3's x-b3-parentspanid). */
  parentSpanId?: string
  /** trace-flags; bit 0 is `sampled`. */
  flags: number
}

export type RandomBytes = (size: number) => Uint8Array

const SAMPLED = 0x01
// W3C Trace Context §3.2: version-format for 00 is exactly this; later versions may append fields.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/

export function isSampled(ctx: TraceContext): boolean {
  return (ctx.flags & SAMPLED) !== 0
}

// Random bytes for ids, from a pool refilled in bulk: one randomBytes() call per id cost ~10 µs
// each (randomFillSync; measured under tunnel churn: 3 % of an HBONE client proxy's CPU; on a waypoint
// at 1000 RPS, 1.5 % of its CPU for the span id of each request). Every byte is handed out once, so
// each id is still fresh randomness. The default source of generateTraceContext and childTraceContext.
const RANDOM_POOL_BYTES = 4096
const randomPool = Buffer.allocUnsafeSlow(RANDOM_POOL_BYTES)
let randomOffset = RANDOM_POOL_BYTES

/** `size` unused random bytes (a view: the caller copies them before the next call). */
export function pooledRandomBytes(size: number): Uint8Array {
  if (size > RANDOM_POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(size))
  const start = takePooled(size)
  return randomPool.subarray(start, start + size)
}

/** Where `size` unused bytes of the pool start (size ≤ the pool); they count as used from now on. */
function takePooled(size: number): number {
  if (randomOffset + size > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool)
    randomOffset = 0
  }
  const start = randomOffset
  randomOffset += size
  return start
}

/** A new root context (random trace and span ids). Sampled unless told otherwise. */
export function generateTraceContext(options: { sampled?: boolean; randomBytes?: RandomBytes | undefined } = {}): TraceContext {
  const random = options.randomBytes
  return {
    traceId: random === undefined ? pooledRandomHex(16) : randomId(random, 16),
    spanId: random === undefined ? pooledRandomHex(8) : randomId(random, 8),
    flags: options.sampled === false ? 0 : SAMPLED,
  }
}

/** The next hop: same trace and flags, a new span whose parent is `parent`'s span. */
export function childTraceContext(parent: TraceContext, randomBytes?: RandomBytes): TraceContext {
  const spanId = randomBytes === undefined ? pooledRandomHex(8) : randomId(randomBytes, 8)
  return { traceId: parent.traceId, spanId, parentSpanId: parent.spanId, flags: parent.flags }
}

/**
 * `size` random bytes of the pool as hex, never all zero: read where the pool holds them, so the
 * only thing made is the id's string (no view, no copy, no intermediate string).
 */
function pooledRandomHex(size: number): string {
  for (;;) {
    const start = takePooled(size)
    for (let i = start; i < start + size; i++) if (randomPool[i] !== 0) return randomPool.toString('hex', start, start + size)
  }
}

export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.flags.toString(16).padStart(2, '0')}`
}

/**
 * Parses a `traceparent` header; undefined when invalid (the W3C rule is then to start a new trace,
 * which is the caller's decision). Accepts later versions by reading their version-00 prefix.
 */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (header === undefined) return undefined
  const m = TRACEPARENT.exec(header.trim())
  if (!m) return undefined
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined]
  if (version === 'ff') return undefined
  if (version === '00' && rest !== undefined) return undefined
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined
  return { traceId, spanId, flags: Number.parseInt(flags, 16) }
}

export interface B3Headers {
  'x-b3-traceid': string
  'x-b3-spanid': string
  'x-b3-parentspanid'?: string
  'x-b3-sampled': '0' | '1'
  /** The single-header form: `{traceid}-{spanid}-{sampled}[-{parentspanid}]`. */
  b3: string
}

/** B3 (multi and single header) for the same span, for apps instrumented with Zipkin libraries. */
export function b3FromTraceContext(ctx: TraceContext): B3Headers {
  const sampled = isSampled(ctx) ? '1' : '0'
  const headers: B3Headers = {
    'x-b3-traceid': ctx.traceId,
    'x-b3-spanid': ctx.spanId,
    'x-b3-sampled': sampled,
    b3: `${ctx.traceId}-${ctx.spanId}-${sampled}${ctx.parentSpanId ? `-${ctx.parentSpanId}` : ''}`,
  }
  if (ctx.parentSpanId !== undefined) headers['x-b3-parentspanid'] = ctx.parentSpanId
  return headers
}

// The request id's characters are written here, then read as one string: node's randomUUID builds
// its string from 20 pieces, which cost a waypoint ~0.6 KB of garbage a request (issue 14).
const uuidText = Buffer.allocUnsafeSlow(36)
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')

/**
 * Envoy's request id: a v4 UUID (RFC 9562: 122 random bits, the version nibble 4, the variant bits
 * 10), from the pooled random bytes, each byte used once.
 */
export function newRequestId(): string {
  const start = takePooled(16)
  let at = 0
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) uuidText[at++] = 0x2d // '-'
    const r = randomPool[start + i]!
    const b = i === 6 ? (r & 0x0f) | 0x40 : i === 8 ? (r & 0x3f) | 0x80 : r
    uuidText[at++] = HEX_DIGITS[b >> 4]!
    uuidText[at++] = HEX_DIGITS[b & 0x0f]!
  }
  return uuidText.toString('latin1', 0, 36)
}

function randomId(random: RandomBytes, size: number): string {
  // An all-zero id is invalid (W3C §3.2.2.3, §3.2.2.4); with real randomness this never loops.
  // The bytes are read where they are (a view, no copy), checked for zero as bytes, then hex.
  for (;;) {
    const bytes = random(size)
    if (bytes.length !== size) throw new AmbientError('TRACE_RANDOM_SIZE', `randomBytes(${size}) returned ${bytes.length} bytes`)
    let zero = true
    for (let i = 0; i < size && zero; i++) zero = bytes[i] === 0
    if (!zero) return Buffer.from(bytes.buffer, bytes.byteOffset, size).toString('hex')
  }
}
