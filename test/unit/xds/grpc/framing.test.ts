import t from 'tap'
import { GrpcClientErrorCode } from '../../../../src/xds/grpc/errors.js'
import { encodeMessage, MessageReader } from '../../../../src/xds/grpc/framing.js'

const text = (bs: Buffer[]) => bs.map((b) => b.toString())

t.test('a message is a 0 flag, a big-endian length and the bytes', async (t) => {
  t.same([...encodeMessage(Buffer.from('abc'))], [0, 0, 0, 0, 3, 97, 98, 99])
  t.same([...encodeMessage(new Uint8Array(0))], [0, 0, 0, 0, 0])
  const big = encodeMessage(new Uint8Array(0x010203))
  t.same([...big.subarray(0, 5)], [0, 0, 0x01, 0x02, 0x03])
})

t.test('messages come out whole however the stream is cut', async (t) => {
  const wire = Buffer.concat([encodeMessage(Buffer.from('first')), encodeMessage(Buffer.alloc(0)), encodeMessage(Buffer.from('third one'))])
  const want = ['first', '', 'third one']
  // Every single cut point, then every pair of cut points: split prefixes, split bodies, joined messages.
  for (let i = 0; i <= wire.length; i++) {
    const r = new MessageReader()
    t.same(text([...r.push(wire.subarray(0, i)), ...r.push(wire.subarray(i))]), want, `cut at ${i}`)
    r.end()
  }
  let pairs = 0
  for (let i = 0; i <= wire.length; i++)
    for (let j = i; j <= wire.length; j++) {
      const r = new MessageReader()
      const got = [...r.push(wire.subarray(0, i)), ...r.push(wire.subarray(i, j)), ...r.push(wire.subarray(j))]
      if (text(got).join('|') === want.join('|')) pairs++
    }
  t.equal(pairs, ((wire.length + 1) * (wire.length + 2)) / 2, 'every pair of cuts')
  const bytes = new MessageReader()
  const oneByOne = [...wire].flatMap((b) => bytes.push(Buffer.of(b)))
  t.same(text(oneByOne), want, 'one byte per chunk')
  t.same(text(new MessageReader().push(wire)), want, 'three messages in one chunk')
})

t.test('a message that fits in one chunk is not copied', async (t) => {
  const wire = encodeMessage(Buffer.from('zero-copy'))
  const [m] = new MessageReader().push(wire)
  t.equal(m!.buffer, wire.buffer)
})

const refusals: { name: string; prefix: number[]; max?: number; code: string }[] = [
  { name: 'compressed flag (never negotiated)', prefix: [1, 0, 0, 0, 1], code: GrpcClientErrorCode.compressed },
  { name: 'flag byte 2', prefix: [2, 0, 0, 0, 1], code: GrpcClientErrorCode.badFlag },
  { name: 'over the limit', prefix: [0, 0, 0, 0, 11], max: 10, code: GrpcClientErrorCode.tooLarge },
  { name: 'over the default 4 MiB', prefix: [0, 0, 0x40, 0, 1], code: GrpcClientErrorCode.tooLarge },
  { name: '4 GiB - 1', prefix: [0, 0xff, 0xff, 0xff, 0xff], code: GrpcClientErrorCode.tooLarge },
]
for (const c of refusals)
  t.test(`refused: ${c.name}`, async (t) => {
    const r = new MessageReader(c.max)
    t.same(r.push(Buffer.from(c.prefix.slice(0, 3))), [], 'nothing before the prefix is whole')
    t.throws(() => r.push(Buffer.from(c.prefix.slice(3))), { code: c.code })
  })

t.test('exactly at the limit is accepted', async (t) => {
  t.same(text(new MessageReader(3).push(encodeMessage(Buffer.from('abc')))), ['abc'])
})

t.test('a stream that ends inside a message is truncated', async (t) => {
  const wire = encodeMessage(Buffer.from('abc'))
  for (const cut of [1, 5, 7]) {
    const r = new MessageReader()
    r.push(wire.subarray(0, cut))
    t.throws(() => r.end(), { code: GrpcClientErrorCode.truncated }, `cut at ${cut}`)
  }
  const r = new MessageReader()
  r.push(wire)
  t.doesNotThrow(() => r.end())
})
