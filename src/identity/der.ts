// DER (X.690) as much as the mesh's certificates need, with no ASN.1 library: a TLV writer, a
// bounds-checked TLV reader, and PEM armour. The workload CSR (certification-request.ts) and the
// certificates the CA signs (leaf-certificate.ts) are built and read with it, so that a process
// that issues or requests certificates does not load @peculiar/x509 and its ASN.1 schemas (about
// 10-13 MB of resident memory, issue 14).

/** DER tags used by the mesh's certificates and requests. */
export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
  /** [0] constructed: a CSR's attributes, a certificate's version, an AKI's keyIdentifier (primitive: 0x80). */
  context0: 0xa0,
  /** [3] constructed: a certificate's extensions. */
  context3: 0xa3,
  /** GeneralName choices (IMPLICIT, primitive): dNSName [2], uniformResourceIdentifier [6], iPAddress [7]. */
  dns: 0x82,
  uri: 0x86,
  ip: 0x87,
} as const

/** One DER TLV; lengths in short form under 128, long form otherwise. */
export function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content)
  const n = body.length
  let length: Buffer
  if (n < 0x80) length = Buffer.from([n])
  else {
    const bytes: number[] = []
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
    length = Buffer.from([0x80 | bytes.length, ...bytes])
  }
  return Buffer.concat([Buffer.from([tag]), length, body])
}

/** A DER INTEGER from unsigned big-endian bytes: minimal, with a 0x00 in front when the top bit is set (no bytes: zero). */
export function derUnsignedInteger(bytes: Buffer): Buffer {
  if (bytes.length === 0) return der(TAG.integer, Buffer.from([0]))
  let i = 0
  while (i < bytes.length - 1 && bytes[i] === 0) i++
  const v = bytes.subarray(i)
  return der(TAG.integer, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v)
}

/** One element read from a buffer: its tag, where its content starts and ends, and the whole TLV. */
export interface Tlv {
  readonly tag: number
  readonly content: Buffer
  /** Tag, length and content: the exact encoded bytes (what a signature covers). */
  readonly raw: Buffer
}

/** Thrown for input that is not well-formed DER; callers map it to their own error code. */
export class DerError extends Error {}

/** Reads the TLV at `offset` of `buf`; single-byte tags, definite lengths up to 4 bytes, all within `buf`. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw new DerError('truncated element')
  const tag = buf[offset]!
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported')
  let length = buf[offset + 1]!
  let start = offset + 2
  if (length & 0x80) {
    const n = length & 0x7f
    if (n === 0 || n > 4) throw new DerError('indefinite or oversized length')
    if (start + n > buf.length) throw new DerError('truncated length')
    length = 0
    for (let i = 0; i < n; i++) length = length * 256 + buf[start + i]!
    start += n
  }
  if (start + length > buf.length) throw new DerError('element runs past its container')
  return { tag, content: buf.subarray(start, start + length), raw: buf.subarray(offset, start + length) }
}

/** The elements of a constructed TLV's content, in order. */
export function children(content: Buffer): Tlv[] {
  const out: Tlv[] = []
  for (let at = 0; at < content.length;) {
    const t = readTlv(content, at)
    out.push(t)
    at += t.raw.length
  }
  return out
}

/** The one element of `buf`, which must hold nothing else, with the expected tag. */
export function readOnly(buf: Buffer, tag: number): Tlv {
  const t = readTlv(buf, 0)
  if (t.raw.length !== buf.length) throw new DerError('trailing bytes')
  return expectTag(t, tag)
}

export function expectTag(t: Tlv | undefined, tag: number): Tlv {
  if (t === undefined) throw new DerError(`missing element (tag 0x${tag.toString(16)})`)
  if (t.tag !== tag) throw new DerError(`tag 0x${t.tag.toString(16)} where 0x${tag.toString(16)} was expected`)
  return t
}

/** PEM armour: base64 in 64-column lines, ending in a newline. */
export function pem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** The DER bytes of the first `label` block of a PEM text. */
export function pemBody(text: string, label: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*)-----END ${label}-----`).exec(text)
  if (m === null) throw new DerError(`no ${label} PEM block`)
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')
}
