// Reading what the L7 pool's send() gives back, in tests: a response body as latin1 text, and the
// error a promise rejects with (null when it resolves).
import type { UpstreamResponse } from '../../src/l7/upstream-exchange.js'

export function bodyOf(r: UpstreamResponse): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    r.body.on('data', (c: Buffer) => chunks.push(c))
    r.body.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')))
    r.body.on('error', reject)
  })
}

export async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  return null
}
