// The write-ahead bound of src/xds/stream-pacer.ts against a Writable whose writes complete only
// when the test says (as an HTTP/2 stream's complete when the socket took them): never more than
// `ahead` bytes outstanding, bytes and order kept, big parts sliced as views (no copy), 'flushed'
// only once everything reached the stream, nothing kept for a stream that went away.
import { Writable } from 'node:stream'
import t from 'tap'
import { createStreamPacer } from '../../../src/xds/stream-pacer.js'

/** A Writable that holds each write's callback until complete() is called. */
function heldWritable() {
  const pending: (() => void)[] = []
  const chunks: Buffer[] = []
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    writev(list, cb) {
      for (const c of list) chunks.push(c.chunk as Buffer)
      pending.push(() => cb())
    },
  })
  return {
    stream,
    chunks,
    /** Completes every write handed over so far (they complete in order). */
    complete: () => pending.splice(0).forEach((cb) => cb()),
    written: () => Buffer.concat(chunks),
  }
}

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255))
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

t.test('never more than `ahead` bytes outstanding; all bytes in order; flushed at the end', async (t) => {
  for (const ahead of [1024, 64 * 1024, 256 * 1024]) {
    const w = heldWritable()
    const pacer = createStreamPacer(w.stream, ahead)
    const parts = [bytes(5, 1), bytes(700_000, 2), bytes(3, 3), bytes(ahead, 4), bytes(ahead + 1, 5)]
    const total = parts.reduce((n, p) => n + p.length, 0)
    let flushed = false
    pacer.write(parts.slice(0, 3))
    pacer.write(parts.slice(3))
    pacer.flushed(() => (flushed = true))
    let rounds = 0
    while (w.written().length < total && rounds++ < 10_000) {
      t.ok(w.stream.writableLength <= ahead, `ahead ${ahead}: ${w.stream.writableLength} outstanding`)
      t.equal(flushed, false)
      w.complete()
      await settle()
    }
    t.same(w.written(), Buffer.concat(parts), `ahead ${ahead}: the bytes, in order`)
    t.equal(pacer.queuedBytes, 0)
    await settle()
    t.equal(flushed, true, `ahead ${ahead}: flushed once all was written`)
  }
})

t.test('a part larger than the room is sent as views of it, not copies', async (t) => {
  const w = heldWritable()
  const big = bytes(100_000, 7)
  const pacer = createStreamPacer(w.stream, 30_000)
  pacer.write([big])
  while (pacer.queuedBytes > 0) {
    w.complete()
    await settle()
  }
  w.complete()
  t.ok(w.chunks.length >= 4, `${w.chunks.length} slices`)
  for (const c of w.chunks) t.equal(c.buffer, big.buffer, 'a view of the caller’s bytes')
  t.same(w.written(), big)
})

t.test('flushed at once when nothing is queued; empty parts are skipped', async (t) => {
  const w = heldWritable()
  const pacer = createStreamPacer(w.stream, 1024)
  let calls = 0
  pacer.flushed(() => calls++)
  t.equal(calls, 1)
  pacer.write([new Uint8Array(0), bytes(10, 1), new Uint8Array(0)])
  pacer.flushed(() => calls++)
  t.equal(calls, 2, 'written to the stream within the bound: flushed at once')
  t.equal(w.chunks.length, 1)
})

t.test('a stream that goes away drops what was queued; flushed callbacks do not run', async (t) => {
  const w = heldWritable()
  const pacer = createStreamPacer(w.stream, 1024)
  let flushed = false
  pacer.write([bytes(10_000, 3)])
  pacer.flushed(() => (flushed = true))
  t.ok(pacer.queuedBytes > 0)
  w.stream.destroy()
  await settle()
  t.equal(pacer.queuedBytes, 0)
  pacer.write([bytes(10, 1)])
  await settle()
  t.equal(flushed, false)
  t.equal(w.written().length, 1024, 'nothing written after the first bound')
})
