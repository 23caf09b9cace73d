// istiod's gRPC server, before any handler runs: the verdict on a request's headers (a table), the
// grpc-timeout values it reads, and how a status is written into trailers (grpc-message encoding,
// read back by the proxies' decoder).
import t from 'tap'
import { GrpcCode } from '../../../src/xds/grpc/codes.js'
import { decodeGrpcMessage, type GrpcFields } from '../../../src/xds/grpc/status.js'
import { decodeGrpcTimeout, encodeGrpcTimeout } from '../../../src/xds/grpc/timeout.js'
import { checkGrpcRequest } from '../../../src/xds/grpc-request-check.js'
import { statusFields } from '../../../src/xds/grpc-server-call.js'

const PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources'
const ok: GrpcFields = { ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' }
const serves = (path: string) => path === PATH

const cases: { name: string; headers: GrpcFields; want: { http: number; code: number; details: RegExp } | { timeoutMs?: number } }[] = [
  { name: 'a gRPC call to a served method', headers: ok, want: {} },
  { name: 'content-type with +proto and a parameter', headers: { ...ok, 'content-type': 'application/grpc+proto; charset=x' }, want: {} },
  { name: 'grpc-encoding identity', headers: { ...ok, 'grpc-encoding': 'identity' }, want: {} },
  { name: 'grpc-timeout in ms', headers: { ...ok, 'grpc-timeout': '1500m' }, want: { timeoutMs: 1500 } },
  { name: 'grpc-timeout in seconds', headers: { ...ok, 'grpc-timeout': '2S' }, want: { timeoutMs: 2000 } },
  {
    name: 'an unknown method',
    headers: { ...ok, ':path': '/istio.v1.auth.Nope/Create' },
    want: { http: 200, code: GrpcCode.UNIMPLEMENTED, details: /unknown method \/istio.v1.auth.Nope\/Create/ },
  },
  {
    name: 'not application/grpc',
    headers: { ...ok, 'content-type': 'application/json' },
    want: { http: 415, code: GrpcCode.UNIMPLEMENTED, details: /content-type application\/json is not application\/grpc/ },
  },
  {
    name: 'gRPC with another codec',
    headers: { ...ok, 'content-type': 'application/grpc+json' },
    want: { http: 415, code: GrpcCode.UNIMPLEMENTED, details: /not application\/grpc/ },
  },
  {
    name: 'a prefix is not the type',
    headers: { ...ok, 'content-type': 'application/grpcx' },
    want: { http: 415, code: GrpcCode.UNIMPLEMENTED, details: /not application\/grpc/ },
  },
  {
    name: 'no content-type',
    headers: { ':method': 'POST', ':path': PATH },
    want: { http: 415, code: GrpcCode.UNIMPLEMENTED, details: /content-type \(none\)/ },
  },
  { name: 'GET', headers: { ...ok, ':method': 'GET' }, want: { http: 405, code: GrpcCode.UNIMPLEMENTED, details: /HTTP method GET/ } },
  {
    name: 'a compressed encoding',
    headers: { ...ok, 'grpc-encoding': 'gzip' },
    want: { http: 200, code: GrpcCode.UNIMPLEMENTED, details: /grpc-encoding gzip/ },
  },
  {
    name: 'a grpc-timeout that is not one',
    headers: { ...ok, 'grpc-timeout': '123456789m' },
    want: { http: 200, code: GrpcCode.INTERNAL, details: /grpc-timeout "123456789m"/ },
  },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const v = checkGrpcRequest(c.headers, serves)
    if ('http' in c.want) {
      t.match(v, { ok: false, httpStatus: c.want.http, status: { code: c.want.code, details: c.want.details } })
    } else {
      t.same(v, { ok: true, path: PATH, timeoutMs: c.want.timeoutMs })
    }
  })
}

t.test('grpc-timeout: every unit, and what is not a timeout', async (t) => {
  const table: [string, number | undefined][] = [
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3000],
    ['4m', 4],
    ['5000u', 5],
    ['6000000n', 6],
    ['99999999m', 99_999_999],
    ['', undefined],
    ['10', undefined],
    ['m', undefined],
    ['-1m', undefined],
    ['1.5S', undefined],
    ['123456789S', undefined],
    ['1s', undefined],
  ]
  for (const [value, ms] of table) t.equal(decodeGrpcTimeout(value), ms, JSON.stringify(value))
  for (const ms of [1, 999, 100_000_001, 1e12]) t.ok(decodeGrpcTimeout(encodeGrpcTimeout(ms))! >= ms, `${ms} round trip, never shorter`)
})

t.test('a status as trailer fields: grpc-message percent-encoded, read back as sent', async (t) => {
  t.same(statusFields({ code: GrpcCode.OK, details: '' }), { 'grpc-status': '0' })
  const table = ['missing bearer token (authorization: Bearer <token>)', '100% sure', 'line\nbreak', 'identité ✗', 'tab\there']
  for (const details of table) {
    const fields = statusFields({ code: GrpcCode.UNAUTHENTICATED, details })
    t.equal(fields['grpc-status'], '16')
    t.match(fields['grpc-message'], /^[\x20-\x7e]*$/, `${JSON.stringify(details)}: printable ASCII on the wire`)
    t.equal(decodeGrpcMessage(fields['grpc-message']!), details, JSON.stringify(details))
  }
  t.equal(statusFields({ code: 13, details: 'a\ud800b' })['grpc-message'], 'a?b', 'a lone surrogate')
})
