import t from 'tap'
import { AmbientError } from '../../../src/errors.js'
import { Backoff, DEFAULT_BACKOFF } from '../../../src/xds/backoff.js'
import { resolveToken } from '../../../src/xds/bearer-headers.js'
import { bearerHeaders } from '../../../src/xds/bearer-headers.js'
import { bearerToken } from '../../../src/xds/bearer-token.js'
import { GrpcCode } from '../../../src/xds/grpc/codes.js'
import { XdsErrorCode } from '../../../src/xds/errors.js'
import { toGrpcStatus } from '../../../src/xds/grpc-status.js'
import { resourceVersion, versioned } from '../../../src/xds/resource-provider.js'

t.test('backoff: 10 ms doubling to 15 s, reset after success', async (t) => {
  const b = new Backoff()
  const delays = Array.from({ length: 14 }, () => b.next())
  t.same(delays.slice(0, 5), [10, 20, 40, 80, 160])
  t.equal(Math.max(...delays), DEFAULT_BACKOFF.maxMs)
  t.equal(delays.at(-1), 15_000)
  b.reset()
  t.equal(b.next(), 10)
  const quick = new Backoff({ initialMs: 1, maxMs: 3 })
  t.same([quick.next(), quick.next(), quick.next(), quick.next()], [1, 2, 3, 3])
})

t.test('bearer token metadata', async (t) => {
  t.equal(bearerToken(bearerHeaders('abc', { clusterid: 'Kubernetes' })), 'abc')
  const cases: Array<[string | string[], string | undefined]> = [
    ['bearer  xyz ', 'xyz'],
    ['Basic abc', undefined],
    ['Bearer ', undefined],
    [['Bearer a', 'Bearer b'], undefined],
  ]
  for (const [value, want] of cases) t.equal(bearerToken({ authorization: value }), want, String(value))
  t.equal(bearerToken({}), undefined)
  t.equal(await resolveToken('s'), 's')
  t.equal(await resolveToken(async () => 'f'), 'f')
})

t.test('error codes map to gRPC statuses in one table', async (t) => {
  const cases: Array<[string, number]> = [
    [XdsErrorCode.unauthenticated, GrpcCode.UNAUTHENTICATED],
    [XdsErrorCode.permissionDenied, GrpcCode.PERMISSION_DENIED],
    [XdsErrorCode.badRequest, GrpcCode.INVALID_ARGUMENT],
    ['IDENTITY_CSR_INVALID', GrpcCode.INVALID_ARGUMENT],
    ['IDENTITY_TRUST_DOMAIN_MISMATCH', GrpcCode.PERMISSION_DENIED],
  ]
  for (const [code, status] of cases) t.same(toGrpcStatus(new AmbientError(code, 'why')), { code: status, details: 'why' }, code)
  t.same(
    toGrpcStatus(new Error('secret detail')),
    { code: GrpcCode.INTERNAL, details: 'internal error: UNKNOWN' },
    'internals are not leaked',
  )
})

t.test('resource versions are content hashes', async (t) => {
  t.equal(resourceVersion(Uint8Array.of(1, 2)), resourceVersion(Uint8Array.of(1, 2)))
  t.not(resourceVersion(Uint8Array.of(1, 2)), resourceVersion(Uint8Array.of(2, 1)))
  t.ok(Object.isFrozen(versioned(Uint8Array.of(1))))
})
