// The REDIRECT capture of a proxy living inside its pod's namespace (src/capture/inpod/redirect-capture.ts),
// without root: the original destination is injected (the netns test gets it from SO_ORIGINAL_DST).
// Each accepted connection is handed over paused with its original destination; accept() settles once,
// reject() resets; a connection without an original destination is reset and never handed over.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { createRedirectCapture, RedirectCaptureCode } from '../../../src/capture/inpod/redirect-capture.js'
import type { CapturedConnection } from '../../../src/capture/capture.js'
import { isAmbientError } from '../../../src/errors.js'
import { eventually } from '../../helpers/eventually.js'

const warnings: Record<string, unknown>[] = []
const logger = { debug: () => undefined, warn: (f: Record<string, unknown>) => void warnings.push(f) }

t.test('hands over each connection with its original destination; accept once, reject resets', async (t) => {
  const got: CapturedConnection[] = []
  let fail = false
  const capture = createRedirectCapture({
    host: '127.0.0.1',
    port: 0,
    sourcePod: 'pod-a',
    logger,
    onConnection: (c) => got.push(c),
    originalDst: () => {
      if (fail) throw new Error('not redirected')
      return { ip: '10.96.0.7', port: 9080, family: 4 }
    },
  })
  const [bound] = await capture.start()
  t.teardown(() => capture.close())
  const client = net.connect(bound!.port, '127.0.0.1')
  client.on('error', () => undefined)
  client.write('hello')
  await eventually(() => got.length === 1)
  const c = got[0]!
  t.same(c.originalDst, { kind: 'ip', ip: '10.96.0.7', port: 9080 })
  t.equal(c.sourcePod, 'pod-a')
  await c.accept()
  const err = await c.accept().catch((e: unknown) => e)
  t.ok(isAmbientError(err, RedirectCaptureCode.settled), 'a second accept is refused')
  c.socket.resume()
  const [data] = (await once(c.socket, 'data')) as [Buffer]
  t.equal(data.toString(), 'hello', 'no byte lost')
  const closed = closeOf(client)
  c.reject('internal')
  await closed
  t.pass('reject closes the client')

  fail = true
  const other = net.connect(bound!.port, '127.0.0.1')
  other.on('error', () => undefined)
  await closeOf(other)
  t.equal(got.length, 1, 'not handed over')
  t.match(warnings.at(-1), { event: 'inpod_no_original_dst' })
})

/** Resolves on 'close' (a reset emits 'error' first, which `once` would reject on). */
function closeOf(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()))
}
