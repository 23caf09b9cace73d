// The DNS wire format (RFC 1035 §4, EDNS0 from RFC 6891), only as much as ztunnel's DNS proxy needs:
// the header, questions, and answers of type A, AAAA and CNAME; every other record type is carried
// as opaque bytes so that a message always re-encodes. Pure: no sockets.
//
// Decoding never throws: a malformed message is a `{ ok: false }` value that still carries the ID
// (when the 12-byte header was there) so that the server can answer FORMERR (RFC 1035 §4.1.1).
// Names are decoded with compression pointers (§4.1.4), which must point backwards (no loops), and
// encoded with compression of every suffix already written.
//
// Names are presentation text without the trailing dot (`reviews.default`, the root is ``); a label
// holding `.` or `\` is escaped (`\.`, `\\`), so the text round-trips.

export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const

export const DnsClass = { IN: 1 } as const

export const DnsRcode = {
  noError: 0,
  formErr: 1,
  servFail: 2,
  nxDomain: 3,
  notImp: 4,
  refused: 5,
} as const

export const DnsOpcode = { query: 0 } as const

/** The size a UDP message may have without EDNS (RFC 1035 §4.2.1). */
export const UDP_PLAIN_MAX_BYTES = 512
/** A name is at most 255 octets on the wire, a label 63 (RFC 1035 §2.3.4). */
const MAX_NAME_BYTES = 255
const MAX_LABEL_BYTES = 63
const HEADER_BYTES = 12

export interface DnsHeader {
  readonly id: number
  /** true in a response. */
  readonly qr: boolean
  readonly opcode: number
  readonly aa: boolean
  readonly tc: boolean
  readonly rd: boolean
  readonly ra: boolean
  /** The low 4 bits; an EDNS extended rcode lives in `edns.extendedRcode`. */
  readonly rcode: number
}

export interface DnsQuestion {
  readonly name: string
  readonly type: number
  readonly class: number
}

export type DnsRecordData =
  /** A (dotted quad) or AAAA (RFC 5952 text): both hold one address. */
  | { readonly kind: 'a' | 'aaaa'; readonly address: string }
  | { readonly kind: 'cname'; readonly target: string }
  /**
   * Any other type, RDATA as received. Names inside it are not decompressed, so such a record is
   * only for messages we pass through as bytes, never to re-encode elsewhere.
   */
  | { readonly kind: 'raw'; readonly bytes: Buffer }

export interface DnsRecord {
  readonly name: string
  readonly type: number
  readonly class: number
  readonly ttl: number
  readonly data: DnsRecordData
}

/** The OPT pseudo-record (RFC 6891 §6.1.2), kept apart from the additional section. */
export interface DnsEdns {
  /** The largest UDP payload the sender can receive (the OPT record's CLASS). */
  readonly udpPayloadSize: number
  readonly extendedRcode: number
  readonly version: number
  /** The DO bit. */
  readonly dnssecOk: boolean
  /** Options, as received. */
  readonly options: Buffer
}

export interface DnsMessage {
  readonly header: DnsHeader
  readonly questions: readonly DnsQuestion[]
  readonly answers: readonly DnsRecord[]
  readonly authorities: readonly DnsRecord[]
  /** Without the OPT record. */
  readonly additionals: readonly DnsRecord[]
  readonly edns: DnsEdns | undefined
}

export type DecodeResult =
  | { readonly ok: true; readonly message: DnsMessage }
  /** `header` is there when the first 12 bytes were: enough to answer FORMERR. */
  | { readonly ok: false; readonly reason: string; readonly header: DnsHeader | undefined }

class Malformed extends Error {}

// --- decoding

export function decodeMessage(buf: Buffer): DecodeResult {
  if (buf.length < HEADER_BYTES) return { ok: false, reason: `message of ${buf.length} bytes is shorter than a header`, header: undefined }
  const header = decodeHeader(buf)
  try {
    const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const
    const reader = { buf, offset: HEADER_BYTES }
    const questions: DnsQuestion[] = []
    for (let i = 0; i < counts[0]; i++) {
      const name = readName(reader)
      need(reader, 4)
      questions.push({ name, type: buf.readUInt16BE(reader.offset), class: buf.readUInt16BE(reader.offset + 2) })
      reader.offset += 4
    }
    const answers = readRecords(reader, counts[1])
    const authorities = readRecords(reader, counts[2])
    const additionalsWithOpt = readRecords(reader, counts[3])
    let edns: DnsEdns | undefined
    const additionals: DnsRecord[] = []
    for (const r of additionalsWithOpt) {
      if (r.type !== DnsType.OPT) {
        additionals.push(r)
        continue
      }
      if (edns !== undefined) throw new Malformed('more than one OPT record')
      if (r.name !== '') throw new Malformed('OPT record not owned by the root')
      edns = {
        udpPayloadSize: r.class,
        extendedRcode: r.ttl >>> 24,
        version: (r.ttl >>> 16) & 0xff,
        dnssecOk: (r.ttl & 0x8000) !== 0,
        options: r.data.kind === 'raw' ? r.data.bytes : Buffer.alloc(0),
      }
    }
    // Bytes after the last record are ignored, as most servers do.
    return { ok: true, message: { header, questions, answers, authorities, additionals, edns } }
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, reason: err.message, header }
    throw err
  }
}

function decodeHeader(buf: Buffer): DnsHeader {
  const flags = buf.readUInt16BE(2)
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
  }
}

interface Reader {
  readonly buf: Buffer
  offset: number
}

function need(r: Reader, n: number): void {
  if (r.offset + n > r.buf.length) throw new Malformed(`message ends at byte ${r.buf.length}, needed ${n} more at ${r.offset}`)
}

function readRecords(r: Reader, count: number): DnsRecord[] {
  const out: DnsRecord[] = []
  for (let i = 0; i < count; i++) {
    const name = readName(r)
    need(r, 10)
    const type = r.buf.readUInt16BE(r.offset)
    const klass = r.buf.readUInt16BE(r.offset + 2)
    const ttl = r.buf.readUInt32BE(r.offset + 4)
    const length = r.buf.readUInt16BE(r.offset + 8)
    r.offset += 10
    need(r, length)
    const start = r.offset
    let data: DnsRecordData
    if (type === DnsType.A && klass === DnsClass.IN) {
      if (length !== 4) throw new Malformed(`A record with ${length} bytes of data`)
      data = { kind: 'a', address: [...r.buf.subarray(start, start + 4)].join('.') }
    } else if (type === DnsType.AAAA && klass === DnsClass.IN) {
      if (length !== 16) throw new Malformed(`AAAA record with ${length} bytes of data`)
      data = { kind: 'aaaa', address: formatIpv6(r.buf.subarray(start, start + 16)) }
    } else if (type === DnsType.CNAME) {
      const inner = { buf: r.buf, offset: start }
      const target = readName(inner)
      if (inner.offset !== start + length) throw new Malformed('CNAME data length does not match its name')
      data = { kind: 'cname', target }
    } else {
      data = { kind: 'raw', bytes: Buffer.from(r.buf.subarray(start, start + length)) }
    }
    r.offset = start + length
    out.push({ name, type, class: klass, ttl, data })
  }
  return out
}

/** Reads a possibly compressed name; pointers must go strictly backwards, which rules out loops. */
function readName(r: Reader): string {
  const labels: string[] = []
  let wireLength = 1
  let offset = r.offset
  let resumeAt: number | undefined
  let lowestTarget = r.offset
  for (;;) {
    if (offset >= r.buf.length) throw new Malformed('name runs past the end of the message')
    const len = r.buf[offset] as number
    if ((len & 0xc0) === 0xc0) {
      if (offset + 1 >= r.buf.length) throw new Malformed('truncated compression pointer')
      const target = ((len & 0x3f) << 8) | (r.buf[offset + 1] as number)
      if (target >= lowestTarget) throw new Malformed('compression pointer does not point backwards')
      resumeAt ??= offset + 2
      lowestTarget = target
      offset = target
      continue
    }
    if ((len & 0xc0) !== 0) throw new Malformed(`unsupported label type 0x${len.toString(16)}`)
    if (len === 0) {
      r.offset = resumeAt ?? offset + 1
      return labels.join('.')
    }
    wireLength += len + 1
    if (wireLength > MAX_NAME_BYTES) throw new Malformed('name longer than 255 bytes')
    if (offset + 1 + len > r.buf.length) throw new Malformed('label runs past the end of the message')
    labels.push(escapeLabel(r.buf.subarray(offset + 1, offset + 1 + len)))
    offset += 1 + len
  }
}

function escapeLabel(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[.\\]/g, (c) => `\\${c}`)
}

function formatIpv6(bytes: Buffer): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16))
  // Compress the longest run of zero groups (RFC 5952 §4.2), at least two long.
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`
}

// --- encoding

export interface EncodeOptions {
  /**
   * The largest message allowed (UDP). Records that do not fit are left out from the end (additional,
   * then authority, then answer records), the OPT record is kept, and TC is set (RFC 2181 §9).
   */
  readonly maxBytes?: number
}

export function encodeMessage(message: DnsMessage, options: EncodeOptions = {}): Buffer {
  const max = options.maxBytes ?? 65535
  const w = new Writer()
  const { header } = message
  w.u16(header.id)
  w.u16(0) // flags, written last (TC may change)
  w.u16(message.questions.length)
  w.u16(0)
  w.u16(0)
  w.u16(0)
  for (const q of message.questions) {
    w.name(q.name)
    w.u16(q.type)
    w.u16(q.class)
  }
  const optBytes = message.edns === undefined ? 0 : encodedOpt(message.edns).length
  let truncated = w.length + optBytes > max
  const counts = [0, 0, 0]
  const sections = [message.answers, message.authorities, message.additionals] as const
  sections.forEach((records, section) => {
    for (const record of records) {
      if (truncated) return
      const mark = w.mark()
      w.record(record)
      if (w.length + optBytes > max) {
        w.reset(mark)
        truncated = true
        return
      }
      counts[section]! += 1
    }
  })
  if (message.edns !== undefined) {
    w.raw(encodedOpt(message.edns))
    counts[2]! += 1
  }
  const out = w.finish()
  let flags =
    (header.qr ? 0x8000 : 0) |
    ((header.opcode & 0xf) << 11) |
    (header.aa ? 0x0400 : 0) |
    (header.tc || truncated ? 0x0200 : 0) |
    (header.rd ? 0x0100 : 0) |
    (header.ra ? 0x0080 : 0) |
    (header.rcode & 0xf)
  flags &= 0xffff
  out.writeUInt16BE(flags, 2)
  out.writeUInt16BE(counts[0]!, 6)
  out.writeUInt16BE(counts[1]!, 8)
  out.writeUInt16BE(counts[2]!, 10)
  return out
}

function encodedOpt(edns: DnsEdns): Buffer {
  const b = Buffer.alloc(11 + edns.options.length)
  b[0] = 0 // root
  b.writeUInt16BE(DnsType.OPT, 1)
  b.writeUInt16BE(edns.udpPayloadSize, 3)
  b.writeUInt32BE((((edns.extendedRcode & 0xff) << 24) | ((edns.version & 0xff) << 16) | (edns.dnssecOk ? 0x8000 : 0)) >>> 0, 5)
  b.writeUInt16BE(edns.options.length, 9)
  edns.options.copy(b, 11)
  return b
}

/** Splits presentation text into wire labels; throws on names that cannot be encoded (ours only). */
export function nameLabels(name: string): Buffer[] {
  if (name === '' || name === '.') return []
  const labels: Buffer[] = []
  let current: number[] = []
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c === 0x5c /* \ */ && i + 1 < name.length) {
      current.push(name.charCodeAt(++i) & 0xff)
    } else if (c === 0x2e /* . */) {
      labels.push(Buffer.from(current))
      current = []
    } else {
      current.push(c & 0xff)
    }
  }
  if (current.length > 0 || !name.endsWith('.')) labels.push(Buffer.from(current))
  for (const l of labels) {
    if (l.length === 0 || l.length > MAX_LABEL_BYTES) throw new RangeError(`invalid DNS name "${name}": label of ${l.length} bytes`)
  }
  if (labels.reduce((n, l) => n + l.length + 1, 1) > MAX_NAME_BYTES)
    throw new RangeError(`invalid DNS name "${name}": longer than 255 bytes`)
  return labels
}

class Writer {
  private buf = Buffer.alloc(512)
  length = 0
  /** Lower-cased suffix → offset of its first occurrence (only offsets a pointer can reach). */
  private suffixes = new Map<string, number>()

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n))
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }

  u16(v: number): void {
    this.ensure(2)
    this.buf.writeUInt16BE(v & 0xffff, this.length)
    this.length += 2
  }

  u32(v: number): void {
    this.ensure(4)
    this.buf.writeUInt32BE(v >>> 0, this.length)
    this.length += 4
  }

  raw(b: Buffer): void {
    this.ensure(b.length)
    b.copy(this.buf, this.length)
    this.length += b.length
  }

  name(name: string): void {
    const labels = nameLabels(name)
    for (let i = 0; i < labels.length; i++) {
      const key = labels
        .slice(i)
        .map((l) => l.toString('latin1').toLowerCase())
        .join('\0')
      const at = this.suffixes.get(key)
      if (at !== undefined) {
        this.u16(0xc000 | at)
        return
      }
      if (this.length < 0x4000) this.suffixes.set(key, this.length)
      const label = labels[i]!
      this.ensure(1 + label.length)
      this.buf[this.length] = label.length
      label.copy(this.buf, this.length + 1)
      this.length += 1 + label.length
    }
    this.ensure(1)
    this.buf[this.length++] = 0
  }

  record(r: DnsRecord): void {
    this.name(r.name)
    this.u16(r.type)
    this.u16(r.class)
    this.u32(r.ttl)
    const lengthAt = this.length
    this.u16(0)
    const d = r.data
    switch (d.kind) {
      case 'a':
        this.raw(Buffer.from(d.address.split('.').map(Number)))
        break
      case 'aaaa':
        this.raw(ipv6Bytes(d.address))
        break
      case 'cname':
        this.name(d.target)
        break
      case 'raw':
        this.raw(d.bytes)
        break
    }
    this.buf.writeUInt16BE(this.length - lengthAt - 2, lengthAt)
  }

  mark(): { length: number; suffixes: Map<string, number> } {
    return { length: this.length, suffixes: new Map(this.suffixes) }
  }

  reset(mark: { length: number; suffixes: Map<string, number> }): void {
    this.length = mark.length
    this.suffixes = mark.suffixes
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length))
  }
}

function ipv6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16)
  let text = address
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2))
  return out
}

// --- building answers

export interface ResponseParts {
  readonly rcode: number
  readonly authoritative?: boolean
  readonly answers?: readonly DnsRecord[]
}

/** EDNS payload size we advertise and accept at most (the DNS flag day 2020 value). */
export const EDNS_PAYLOAD_BYTES = 1232

/**
 * The response to `query`: same ID, opcode, RD and question; RA set (unknown names are forwarded);
 * an OPT record when the query had one (RFC 6891 §7).
 */
export function buildResponse(query: DnsMessage, parts: ResponseParts): DnsMessage {
  return {
    header: {
      id: query.header.id,
      qr: true,
      opcode: query.header.opcode,
      aa: parts.authoritative ?? false,
      tc: false,
      rd: query.header.rd,
      ra: true,
      rcode: parts.rcode,
    },
    questions: query.questions,
    answers: parts.answers ?? [],
    authorities: [],
    additionals: [],
    edns:
      query.edns === undefined
        ? undefined
        : { udpPayloadSize: EDNS_PAYLOAD_BYTES, extendedRcode: 0, version: 0, dnssecOk: false, options: Buffer.alloc(0) },
  }
}

/** A FORMERR (or other header-only) answer for a query that could not be decoded. */
export function headerOnlyResponse(header: DnsHeader, rcode: number): Buffer {
  return encodeMessage({
    header: { id: header.id, qr: true, opcode: header.opcode, aa: false, tc: false, rd: header.rd, ra: true, rcode },
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    edns: undefined,
  })
}

/** How large a UDP answer to this query may be: 512 without EDNS, else what it offers (512..4096). */
export function udpLimit(query: DnsMessage | undefined): number {
  const offered = query?.edns?.udpPayloadSize
  if (offered === undefined) return UDP_PLAIN_MAX_BYTES
  return Math.min(Math.max(offered, UDP_PLAIN_MAX_BYTES), 4096)
}

/** `a`, `aaaa`, `srv`, … as ztunnel's `request_query_type` label writes them; unknown types as `typeN`. */
export function typeName(type: number): string {
  for (const [name, value] of Object.entries(DnsType)) if (value === type) return name.toLowerCase()
  return `type${type}`
}
