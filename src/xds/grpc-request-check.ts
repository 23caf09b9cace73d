// What istiod's gRPC server (./grpc-server.ts) decides from a request's headers alone, before any
// handler runs: is it a gRPC call it serves, and with which deadline. Refusals are trailers-only
// responses whose `grpc-status` says why; the HTTP status is 200 except where gRPC over HTTP/2 asks
// for another one, so that a plain HTTP client does not read a refusal as success (415 for a body
// that is not gRPC, 405 for a method other than POST).
import { GrpcCode } from './grpc/codes.js'
import type { GrpcFields, GrpcStatus } from './grpc/status.js'
import { decodeGrpcTimeout } from './grpc/timeout.js'

export type GrpcRequestVerdict =
  | { readonly ok: true; readonly path: string; readonly timeoutMs: number | undefined }
  | { readonly ok: false; readonly httpStatus: number; readonly status: GrpcStatus }

/** `application/grpc`, optionally `+proto` and parameters; any other subtype (`+json`) is not ours. */
const GRPC_CONTENT_TYPE = /^application\/grpc(\+proto)?\s*(;|$)/i

function one(fields: GrpcFields, name: string): string | undefined {
  const v = fields[name]
  return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : String(v)
}

const refuse = (httpStatus: number, code: number, details: string): GrpcRequestVerdict => ({
  ok: false,
  httpStatus,
  status: { code, details },
})

/** The verdict on a request's headers; `serves(path)` says whether a method is registered at that path. */
export function checkGrpcRequest(headers: GrpcFields, serves: (path: string) => boolean): GrpcRequestVerdict {
  const method = one(headers, ':method') ?? ''
  if (method !== 'POST') return refuse(405, GrpcCode.UNIMPLEMENTED, `HTTP method ${method || '(none)'}: gRPC calls are POST`)
  const contentType = one(headers, 'content-type')
  if (contentType === undefined || !GRPC_CONTENT_TYPE.test(contentType))
    return refuse(415, GrpcCode.UNIMPLEMENTED, `content-type ${contentType ?? '(none)'} is not application/grpc`)
  const path = one(headers, ':path') ?? ''
  if (!serves(path)) return refuse(200, GrpcCode.UNIMPLEMENTED, `unknown method ${path || '(none)'}`)
  const encoding = one(headers, 'grpc-encoding')
  if (encoding !== undefined && encoding !== 'identity')
    return refuse(200, GrpcCode.UNIMPLEMENTED, `grpc-encoding ${encoding} is not supported (identity only)`)
  const timeout = one(headers, 'grpc-timeout')
  if (timeout === undefined) return { ok: true, path, timeoutMs: undefined }
  const timeoutMs = decodeGrpcTimeout(timeout)
  if (timeoutMs === undefined) return refuse(200, GrpcCode.INTERNAL, `grpc-timeout ${JSON.stringify(timeout)} is not a timeout`)
  return { ok: true, path, timeoutMs }
}
