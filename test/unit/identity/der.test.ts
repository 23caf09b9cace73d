// der.ts, the DER the mesh's certificates and requests are built and read with: length forms,
// minimal unsigned INTEGERs, the bounds-checked reader's refusals, and PEM armour.
import t from 'tap'
import { children, der, DerError, derUnsignedInteger, pem, pemBody, readOnly, readTlv, TAG } from '../../../src/identity/der.js'

t.test('lengths: short form under 128, long form (minimal) from 128', async (t) => {
  const cases: [number, string][] = [
    [0, '0400'],
    [1, '0401'],
    [127, '047f'],
    [128, '048180'],
    [255, '0481ff'],
    [256, '04820100'],
    [65_535, '0482ffff'],
    [65_536, '0483010000'],
  ]
  for (const [n, head] of cases) {
    const tlv = der(TAG.octetString, Buffer.alloc(n, 7))
    t.equal(tlv.subarray(0, head.length / 2).toString('hex'), head, `${n} content bytes`)
    t.equal(tlv.length, head.length / 2 + n, `${n}: header and content only`)
    const back = readTlv(tlv)
    t.equal(back.tag, TAG.octetString)
    t.equal(back.content.length, n, `${n}: read back`)
    t.equal(back.raw.length, tlv.length)
  }
})

t.test('unsigned INTEGERs are minimal and never negative', async (t) => {
  const cases: [string, string][] = [
    ['', '020100'],
    ['00', '020100'],
    ['0000', '020100'],
    ['01', '020101'],
    ['0001', '020101'],
    ['7f', '02017f'],
    ['80', '02020080'],
    ['00ff', '020200ff'],
    ['000080ff', '02030080ff'],
    ['1234', '02021234'],
  ]
  for (const [input, want] of cases) t.equal(derUnsignedInteger(Buffer.from(input, 'hex')).toString('hex'), want, `0x${input || '(none)'}`)
})

t.test('the reader refuses what is not well-formed DER within its buffer', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['empty', '', /truncated element/],
    ['a tag without a length', '30', /truncated element/],
    ['a multi-byte tag', '1f0100', /multi-byte tags/],
    ['an indefinite length', '308000', /indefinite or oversized/],
    ['a length of five bytes', '30850000000001', /indefinite or oversized/],
    ['a long length cut short', '308201', /truncated length/],
    ['content past the end', '300501020304', /runs past its container/],
  ]
  for (const [name, hex, message] of cases) t.throws(() => readTlv(Buffer.from(hex, 'hex')), { constructor: DerError, message }, name)
  t.throws(
    () => readOnly(Buffer.from('3000ff', 'hex'), TAG.sequence),
    { constructor: DerError, message: /trailing bytes/ },
    'trailing bytes',
  )
  t.throws(() => readOnly(Buffer.from('3100', 'hex'), TAG.sequence), { constructor: DerError, message: /tag 0x31 where 0x30/ }, 'wrong tag')
  t.throws(
    () => children(Buffer.from('0201050201', 'hex')),
    { constructor: DerError, message: /runs past its container/ },
    'a child cut short',
  )
})

t.test('children: the elements of a constructed value, each with its exact bytes', async (t) => {
  const seq = der(TAG.sequence, der(TAG.integer, Buffer.from([5])), der(TAG.oid, Buffer.from('551d11', 'hex')), der(TAG.sequence))
  const parts = children(readOnly(seq, TAG.sequence).content)
  t.same(
    parts.map((p) => [p.tag, p.raw.toString('hex')]),
    [
      [TAG.integer, '020105'],
      [TAG.oid, '0603551d11'],
      [TAG.sequence, '3000'],
    ],
  )
})

t.test('PEM armour: 64-column base64 lines, read back; a missing block is an error', async (t) => {
  const body = Buffer.alloc(100, 0xab)
  const text = pem('CERTIFICATE', body)
  const lines = text.trimEnd().split('\n')
  t.equal(lines[0], '-----BEGIN CERTIFICATE-----')
  t.equal(lines.at(-1), '-----END CERTIFICATE-----')
  t.ok(
    lines.slice(1, -1).every((l) => l.length <= 64),
    'lines of at most 64 characters',
  )
  t.ok(text.endsWith('\n'))
  t.same(pemBody(`junk before\n${text}junk after`, 'CERTIFICATE'), body, 'round trip, surrounding text ignored')
  t.throws(() => pemBody(text, 'CERTIFICATE REQUEST'), { constructor: DerError, message: /no CERTIFICATE REQUEST PEM block/ })
})
