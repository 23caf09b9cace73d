import t from 'tap'
import { encodeMethodSelection, encodeSocks5Reply, socks5ReplyCode, type Socks5Refusal } from '../../../src/capture/socks5-reply.js'

// RFC 1928 §6 REP values, one row per refusal: the whole mapping in one table.
const table: ReadonlyArray<readonly [Socks5Refusal, number]> = [
  ['internal', 0x01],
  ['malformed-request', 0x01],
  ['policy-denied', 0x02],
  ['proxy-loop', 0x02],
  ['network-unreachable', 0x03],
  ['unknown-hostname', 0x04],
  ['no-healthy-endpoint', 0x04],
  ['upstream-timeout', 0x04],
  ['upstream-refused', 0x05],
  ['command-not-supported', 0x07],
  ['address-type-not-supported', 0x08],
]

t.test('refusal → reply code', async (t) => {
  for (const [refusal, code] of table) t.equal(socks5ReplyCode(refusal), code, refusal)
})

t.test('an unknown refusal is a programming error', async (t) => {
  t.throws(() => socks5ReplyCode('nope' as Socks5Refusal), { code: 'INTERNAL_UNREACHABLE' })
})

t.test('wire encodings', async (t) => {
  t.same([...encodeMethodSelection(0x00)], [0x05, 0x00])
  t.same([...encodeMethodSelection(0xff)], [0x05, 0xff])
  t.same([...encodeSocks5Reply(0x04)], [0x05, 0x04, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
})
