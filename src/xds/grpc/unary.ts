// A unary call: one request message, one response message, a deadline. Resolves to the response's
// bytes or rejects with a GrpcStatusError carrying the status.
import type { ClientHttp2Session } from 'node:http2'
import { GrpcCode } from './codes.js'
import { startCall, type CallOptions } from './call.js'
import { describeStatus, type GrpcStatus } from './status.js'

export class GrpcStatusError extends Error {
  constructor(readonly status: GrpcStatus) {
    super(describeStatus(status), status.cause === undefined ? undefined : { cause: status.cause })
    this.name = 'GrpcStatusError'
  }
}

export function unaryCall(session: ClientHttp2Session, options: CallOptions, request: Uint8Array): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const received: Buffer[] = []
    const call = startCall(session, options, {
      onMessage: (bytes) => {
        received.push(bytes)
        if (received.length > 1) call.cancel()
      },
      onStatus: (status) => {
        if (received.length > 1)
          return reject(new GrpcStatusError({ code: GrpcCode.INTERNAL, details: 'more than one response message to a unary call' }))
        if (status.code !== GrpcCode.OK) return reject(new GrpcStatusError(status))
        const [message] = received
        if (message === undefined)
          return reject(new GrpcStatusError({ code: GrpcCode.INTERNAL, details: 'no response message to a unary call' }))
        resolve(message)
      },
    })
    call.write(request)
    call.end()
  })
}
