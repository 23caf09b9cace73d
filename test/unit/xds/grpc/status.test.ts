import t from 'tap'
import { GrpcCode, grpcCodeFromHttpStatus, grpcCodeName } from '../../../../src/xds/grpc/codes.js'
import { decodeGrpcMessage, describeStatus, statusError, statusFromFields } from '../../../../src/xds/grpc/status.js'
import type { GrpcFields } from '../../../../src/xds/grpc/status.js'
import { XdsErrorCode } from '../../../../src/xds/errors.js'

const cases: { name: string; http: number; fields: GrpcFields; code: number; details?: string | RegExp }[] = [
  { name: 'trailers: OK', http: 200, fields: { 'grpc-status': '0' }, code: GrpcCode.OK, details: '' },
  {
    name: 'trailers: refusal with a percent-encoded message',
    http: 200,
    fields: { 'grpc-status': '16', 'grpc-message': 'missing%20bearer%20token%3A%20%E2%9C%97' },
    code: GrpcCode.UNAUTHENTICATED,
    details: 'missing bearer token: ✗',
  },
  {
    name: 'trailers-only headers (content-type beside the status)',
    http: 200,
    fields: { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'no' },
    code: GrpcCode.PERMISSION_DENIED,
    details: 'no',
  },
  { name: 'grpc-status wins over the HTTP status', http: 503, fields: { 'grpc-status': '3' }, code: GrpcCode.INVALID_ARGUMENT },
  { name: 'HTTP 503 without grpc-status', http: 503, fields: {}, code: GrpcCode.UNAVAILABLE, details: /HTTP status 503/ },
  { name: 'HTTP 502', http: 502, fields: {}, code: GrpcCode.UNAVAILABLE },
  { name: 'HTTP 504', http: 504, fields: {}, code: GrpcCode.UNAVAILABLE },
  { name: 'HTTP 429', http: 429, fields: {}, code: GrpcCode.UNAVAILABLE },
  { name: 'HTTP 400', http: 400, fields: {}, code: GrpcCode.INTERNAL },
  { name: 'HTTP 401', http: 401, fields: {}, code: GrpcCode.UNAUTHENTICATED },
  { name: 'HTTP 403', http: 403, fields: {}, code: GrpcCode.PERMISSION_DENIED },
  { name: 'HTTP 404', http: 404, fields: {}, code: GrpcCode.UNIMPLEMENTED },
  { name: 'HTTP 500', http: 500, fields: {}, code: GrpcCode.UNKNOWN },
  { name: 'HTTP 200 without grpc-status', http: 200, fields: {}, code: GrpcCode.UNKNOWN },
  { name: 'grpc-status not a number', http: 200, fields: { 'grpc-status': 'ok' }, code: GrpcCode.UNKNOWN, details: /invalid grpc-status/ },
  { name: 'a code outside the table is kept', http: 200, fields: { 'grpc-status': '42' }, code: 42 },
]
for (const c of cases)
  t.test(`status: ${c.name}`, async (t) => {
    const s = statusFromFields(c.http, c.fields)
    t.equal(s.code, c.code)
    if (c.details !== undefined) t.match(s.details, c.details)
  })

t.test('grpc-message decoding keeps what does not decode', async (t) => {
  t.equal(decodeGrpcMessage('100%25 sure'), '100% sure')
  t.equal(decodeGrpcMessage('bad %ZZ and %E2%9C'), 'bad %ZZ and %E2%9C')
  t.equal(decodeGrpcMessage('plain'), 'plain')
})

t.test('a failed call keeps the coded errors the proxies produced with grpc-js', async (t) => {
  const rows: [number, string][] = [
    [GrpcCode.UNAUTHENTICATED, XdsErrorCode.unauthenticated],
    [GrpcCode.PERMISSION_DENIED, XdsErrorCode.permissionDenied],
    [GrpcCode.INVALID_ARGUMENT, XdsErrorCode.badRequest],
    [GrpcCode.UNAVAILABLE, XdsErrorCode.unavailable],
    [GrpcCode.CANCELLED, XdsErrorCode.unavailable],
    [GrpcCode.DEADLINE_EXCEEDED, XdsErrorCode.unavailable],
    [GrpcCode.INTERNAL, XdsErrorCode.unavailable],
    [GrpcCode.UNKNOWN, XdsErrorCode.unavailable],
    [99, XdsErrorCode.unavailable],
  ]
  for (const [code, want] of rows) {
    const err = statusError({ code, details: 'why' }, 'CreateCertificate for x')
    t.equal(err.code, want, grpcCodeName(code))
    t.equal(err.side, 'upstream')
    t.same(err.details, { grpcCode: code })
    t.equal(err.message, `CreateCertificate for x: ${grpcCodeName(code)} why`)
  }
  t.equal(describeStatus({ code: 16, details: 'missing bearer token' }), '16 UNAUTHENTICATED: missing bearer token')
  t.equal(grpcCodeFromHttpStatus(200), GrpcCode.UNKNOWN)
})
