import t from 'tap'
import { encodeGrpcTimeout } from '../../../../src/xds/grpc/timeout.js'

const cases: [number, string][] = [
  [1, '1m'],
  [0.2, '1m'], // rounded up, never shorter
  [10_000, '10000m'],
  [99_999_999, '99999999m'],
  [100_000_000, '100000S'],
  [100_000_001, '100001S'],
  [99_999_999_000, '99999999S'],
  [99_999_999_001, '1666667M'],
  [1e14, '27777778H'],
  [1e15, '99999999H'], // past 8 digits of hours: the longest deadline there is
  [1e20, '99999999H'],
]
for (const [ms, want] of cases) t.test(`${ms} ms → ${want}`, async (t) => t.equal(encodeGrpcTimeout(ms), want))

t.test('the value never has more than 8 digits', async (t) => {
  for (let ms = 1; ms < 1e21; ms *= 7) t.match(encodeGrpcTimeout(ms), /^\d{1,8}[HMSm]$/, String(ms))
})

t.test('no deadline to encode for zero, negative or NaN', async (t) => {
  for (const ms of [0, -1, Number.NaN]) t.throws(() => encodeGrpcTimeout(ms), RangeError, String(ms))
})
