// Table tests for the DNS wire codec (src/ztunnel/dns/message.ts): header flags, questions, A/AAAA/
// CNAME answers, compression on decode and encode, EDNS OPT, UDP truncation, and malformed messages
// (a value, never an exception; the header kept when it was there, for FORMERR).
import t from 'tap'
import {
  buildResponse,
  decodeMessage,
  DnsClass,
  DnsRcode,
  DnsType,
  encodeMessage,
  headerOnlyResponse,
  typeName,
  udpLimit,
  type DnsMessage,
  type DnsRecord,
} from '../../../src/ztunnel/dns/message.js'

/** A query as a stub resolver sends it: ID, RD, one question, optional EDNS. */
function query(name: string, type: number = DnsType.A, edns?: number): DnsMessage {
  return {
    header: { id: 0x1234, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 },
    questions: [{ name, type, class: DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns:
      edns === undefined ? undefined : { udpPayloadSize: edns, extendedRcode: 0, version: 0, dnssecOk: false, options: Buffer.alloc(0) },
  }
}

const a = (name: string, address: string, ttl = 30): DnsRecord => ({
  name,
  type: DnsType.A,
  class: DnsClass.IN,
  ttl,
  data: { kind: 'a', address },
})
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('round trips: what is encoded decodes to the same message', async (t) => {
  const rows: Array<{ name: string; message: DnsMessage }> = [
    { name: 'a plain A query', message: query('reviews.default.svc.cluster.local') },
    { name: 'an AAAA query with EDNS 1232', message: query('reviews', DnsType.AAAA, 1232) },
    { name: 'a query for the root', message: query('', DnsType.NS) },
    {
      name: 'a response with CNAME, A and AAAA (compressed names)',
      message: {
        ...buildResponse(query('reviews.default.default.svc.cluster.local'), {
          rcode: DnsRcode.noError,
          authoritative: true,
          answers: [
            {
              name: 'reviews.default.default.svc.cluster.local',
              type: DnsType.CNAME,
              class: DnsClass.IN,
              ttl: 30,
              data: { kind: 'cname', target: 'reviews.default' },
            },
            a('reviews.default', '10.96.0.5'),
            { name: 'reviews.default', type: DnsType.AAAA, class: DnsClass.IN, ttl: 30, data: { kind: 'aaaa', address: 'fd00::5' } },
          ],
        }),
      },
    },
    {
      name: 'an unknown record type is carried as bytes',
      message: buildResponse(query('x.example', DnsType.TXT), {
        rcode: DnsRcode.noError,
        answers: [
          { name: 'x.example', type: DnsType.TXT, class: DnsClass.IN, ttl: 5, data: { kind: 'raw', bytes: Buffer.from('\x02hi') } },
        ],
      }),
    },
    { name: 'a label holding a dot and a backslash is escaped', message: query('a\\.b\\\\c.example') },
    {
      name: 'every rcode bit and flag survives',
      message: { ...query('x'), header: { id: 65535, qr: true, opcode: 2, aa: true, tc: true, rd: false, ra: true, rcode: 5 } },
    },
  ]
  for (const row of rows) {
    const decoded = decodeMessage(encodeMessage(row.message))
    t.ok(decoded.ok, row.name)
    if (decoded.ok) t.same(decoded.message, row.message, row.name)
  }
})

t.test('IPv6 addresses decode canonically (RFC 5952)', async (t) => {
  const rows: Array<[string, string]> = [
    ['2001:db8:0:0:0:ff00:42:8329', '2001:db8::ff00:42:8329'],
    ['::1', '::1'],
    ['fd00::', 'fd00::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ]
  for (const [written, canonical] of rows) {
    const msg = buildResponse(query('v6', DnsType.AAAA), {
      rcode: 0,
      answers: [{ name: 'v6', type: DnsType.AAAA, class: DnsClass.IN, ttl: 1, data: { kind: 'aaaa', address: written } }],
    })
    const decoded = decodeMessage(encodeMessage(msg))
    t.equal(
      decoded.ok && decoded.message.answers[0]?.data.kind === 'aaaa' ? decoded.message.answers[0].data.address : undefined,
      canonical,
      written,
    )
  }
})

t.test('decoding follows compression pointers, and encoding writes them', async (t) => {
  // Header (1 question, 1 answer), question example.com A IN, answer with name = pointer to 12.
  const wire = hex(`
    abcd 8180 0001 0001 0000 0000
    07 6578616d706c65 03 636f6d 00 0001 0001
    c00c 0001 0001 0000001e 0004 01020304`)
  const decoded = decodeMessage(wire)
  t.ok(decoded.ok)
  if (!decoded.ok) return
  t.same(decoded.message.answers, [a('example.com', '1.2.3.4')])
  t.equal(decoded.message.header.id, 0xabcd)
  // Re-encoded, the answer's owner is a pointer again: same 45 bytes.
  t.same(encodeMessage(decoded.message), wire)
  // A suffix is shared too: www.example.com after example.com is `3www` + pointer.
  const shared = encodeMessage(buildResponse(query('example.com'), { rcode: 0, answers: [a('www.example.com', '1.1.1.1')] }))
  t.ok(shared.includes(hex('03 777777 c00c')), 'www + pointer to example.com')
  // Compression is case-insensitive on encode, the case is kept on decode.
  const mixed = decodeMessage(encodeMessage(buildResponse(query('Example.COM'), { rcode: 0, answers: [a('example.com', '1.1.1.1')] })))
  t.equal(mixed.ok && mixed.message.questions[0]?.name, 'Example.COM')
})

t.test('EDNS: the OPT record is kept apart, and the UDP limit follows it', async (t) => {
  const q = encodeMessage(query('x', DnsType.A, 4096))
  const decoded = decodeMessage(q)
  t.ok(decoded.ok)
  if (!decoded.ok) return
  t.equal(decoded.message.additionals.length, 0, 'OPT is not an additional record')
  t.equal(decoded.message.edns?.udpPayloadSize, 4096)
  t.equal(udpLimit(decoded.message), 4096)
  t.equal(udpLimit(query('x')), 512, 'no EDNS: 512 bytes')
  t.equal(udpLimit(query('x', DnsType.A, 100)), 512, 'an offer below 512 counts as 512')
  t.equal(udpLimit(query('x', DnsType.A, 65000)), 4096, 'we accept at most 4096')
  t.equal(udpLimit(undefined), 512)
  const response = buildResponse(decoded.message, { rcode: 0 })
  t.equal(response.edns?.udpPayloadSize, 1232, 'a response to an EDNS query carries OPT with our size')
  t.equal(buildResponse(query('x'), { rcode: 0 }).edns, undefined, 'and none to a plain query')
  // DO bit and options survive.
  const withDo: DnsMessage = {
    ...query('x'),
    edns: { udpPayloadSize: 1232, extendedRcode: 1, version: 0, dnssecOk: true, options: hex('000a 0008 0102030405060708') },
  }
  const back = decodeMessage(encodeMessage(withDo))
  t.same(back.ok && back.message.edns, withDo.edns)
})

t.test('UDP truncation: records past the limit are left out and TC is set', async (t) => {
  const answers = Array.from({ length: 100 }, (_, i) => a('large.example.com', `10.0.${i >> 8}.${i & 0xff}`))
  const response = buildResponse(query('large.example.com'), { rcode: 0, answers })
  const full = encodeMessage(response)
  const fullDecoded = decodeMessage(full)
  t.equal(fullDecoded.ok && fullDecoded.message.answers.length, 100, 'no limit: all 100')
  t.equal(fullDecoded.ok && fullDecoded.message.header.tc, false)

  const cut = encodeMessage(response, { maxBytes: 512 })
  t.ok(cut.length <= 512, `${cut.length} bytes`)
  const cutDecoded = decodeMessage(cut)
  t.ok(cutDecoded.ok)
  if (!cutDecoded.ok) return
  t.equal(cutDecoded.message.header.tc, true)
  // 12 header + 23 question, then 16 bytes per compressed A record: (512 - 35) / 16 = 29.
  t.equal(cutDecoded.message.answers.length, 29)

  // With EDNS the OPT record stays, inside the limit.
  const edns = encodeMessage(buildResponse(query('large.example.com', DnsType.A, 1232), { rcode: 0, answers }), { maxBytes: 512 })
  const ednsDecoded = decodeMessage(edns)
  t.ok(edns.length <= 512)
  t.equal(ednsDecoded.ok && ednsDecoded.message.edns?.udpPayloadSize, 1232)
  t.equal(ednsDecoded.ok && ednsDecoded.message.answers.length, 29, 'OPT (11 bytes) fits in the 13 left: 35 + 29 × 16 + 11 = 510')
  const tight = encodeMessage(buildResponse(query('large.example.com', DnsType.A, 1232), { rcode: 0, answers }), { maxBytes: 509 })
  const tightDecoded = decodeMessage(tight)
  t.equal(tightDecoded.ok && tightDecoded.message.answers.length, 28, 'one byte less: a record gives way to OPT')
  t.equal(tightDecoded.ok && tightDecoded.message.edns?.udpPayloadSize, 1232)
})

t.test('malformed messages are values, with the header when there was one', async (t) => {
  const header = 'beef 0100 0001 0000 0000 0000'
  const rows: Array<{ name: string; wire: Buffer; reason: RegExp; header: boolean }> = [
    { name: 'empty', wire: Buffer.alloc(0), reason: /shorter than a header/, header: false },
    { name: '11 bytes', wire: hex('beef 0100 0001 0000 0000 00'), reason: /shorter than a header/, header: false },
    { name: 'question count without a question', wire: hex(header), reason: /name runs past/, header: true },
    { name: 'label past the end', wire: hex(`${header} 05 6162`), reason: /label runs past/, header: true },
    { name: 'name without its terminating zero', wire: hex(`${header} 01 61`), reason: /name runs past/, header: true },
    { name: 'question without type and class', wire: hex(`${header} 01 61 00 0001`), reason: /needed 4 more/, header: true },
    { name: 'pointer to itself', wire: hex(`${header} c00c 0001 0001`), reason: /does not point backwards/, header: true },
    { name: 'pointer forwards', wire: hex(`${header} c010 0001 0001 00`), reason: /does not point backwards/, header: true },
    {
      name: 'pointer loop (a → b → a)',
      wire: hex(`beef 0100 0002 0000 0000 0000 c014 0001 0001 c00c 0001 0001`),
      reason: /does not point backwards/,
      header: true,
    },
    { name: 'truncated pointer', wire: hex(`${header} c0`), reason: /truncated compression pointer/, header: true },
    { name: 'extended label type 0x40', wire: hex(`${header} 41 00 0001 0001`), reason: /unsupported label type/, header: true },
    {
      name: 'name over 255 bytes',
      wire: Buffer.concat([
        hex(header),
        Buffer.from(Array.from({ length: 5 }, () => [63, ...Array<number>(63).fill(0x61)]).flat()),
        hex('00 0001 0001'),
      ]),
      reason: /longer than 255/,
      header: true,
    },
    { name: 'answer count without the answer', wire: hex('beef 8100 0000 0001 0000 0000'), reason: /name runs past/, header: true },
    {
      name: 'A record of 3 bytes',
      wire: hex('beef 8100 0000 0001 0000 0000 00 0001 0001 00000000 0003 010203'),
      reason: /A record with 3 bytes/,
      header: true,
    },
    {
      name: 'AAAA record of 4 bytes',
      wire: hex('beef 8100 0000 0001 0000 0000 00 001c 0001 00000000 0004 01020304'),
      reason: /AAAA record with 4 bytes/,
      header: true,
    },
    {
      name: 'record data past the end',
      wire: hex('beef 8100 0000 0001 0000 0000 00 0010 0001 00000000 0009 0102'),
      reason: /needed 9 more/,
      header: true,
    },
    {
      name: 'CNAME whose name is shorter than its data',
      wire: hex('beef 8100 0000 0001 0000 0000 00 0005 0001 00000000 0003 00 0000'),
      reason: /CNAME data length/,
      header: true,
    },
    {
      name: 'two OPT records',
      wire: hex('beef 0100 0000 0000 0000 0002 00 0029 1000 00000000 0000 00 0029 1000 00000000 0000'),
      reason: /more than one OPT/,
      header: true,
    },
    {
      name: 'OPT not owned by the root',
      wire: hex('beef 0100 0000 0000 0000 0001 01 61 00 0029 1000 00000000 0000'),
      reason: /not owned by the root/,
      header: true,
    },
  ]
  for (const row of rows) {
    const result = decodeMessage(row.wire)
    t.notOk(result.ok, row.name)
    if (result.ok) continue
    t.match(result.reason, row.reason, row.name)
    t.equal(result.header?.id, row.header ? 0xbeef : undefined, `${row.name}: header`)
  }
  // FORMERR from a header alone: ID, opcode and RD echoed, QR and rcode 1.
  const bad = decodeMessage(hex(`${header} 05 61`))
  t.ok(!bad.ok && bad.header)
  if (bad.ok || !bad.header) return
  const formErr = decodeMessage(headerOnlyResponse(bad.header, DnsRcode.formErr))
  t.same(formErr.ok && formErr.message.header, { id: 0xbeef, qr: true, opcode: 0, aa: false, tc: false, rd: true, ra: true, rcode: 1 })
  // Trailing bytes after the last record are tolerated.
  t.ok(decodeMessage(Buffer.concat([encodeMessage(query('x')), hex('00ff')])).ok, 'trailing garbage ignored')
})

t.test('names we cannot encode are refused at the encoder, not sent', async (t) => {
  t.throws(() => encodeMessage(query('a..b')), RangeError)
  t.throws(() => encodeMessage(query(`${'x'.repeat(64)}.example`)), RangeError)
  t.throws(() => encodeMessage(query(Array.from({ length: 5 }, () => 'y'.repeat(63)).join('.'))), RangeError)
  t.ok(decodeMessage(encodeMessage(query('trailing.dot.'))).ok, 'a trailing dot is the same name')
})

t.test('query type names as ztunnel labels them', async (t) => {
  t.equal(typeName(DnsType.A), 'a')
  t.equal(typeName(DnsType.AAAA), 'aaaa')
  t.equal(typeName(DnsType.SRV), 'srv')
  t.equal(typeName(65), 'type65')
})
