// A listening fd handed to a server (the native addon's, made in a pod's netns) is closed when the
// server cannot listen on it, and never closed twice. Real fds: a regular file is one no server can
// listen on and no socket can wrap.
import t from 'tap'
import type { Test } from 'tap'
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { socketFromFd } from '../../../src/capture/inpod/addon.js'
import { fdIdentity as openOn, ListenErrorCode, listenOnFd } from '../../../src/net/listen.js'

function tempFiles(t: Test): (name: string) => { fd: number; id: string } {
  const dir = mkdtempSync(join(tmpdir(), 'listen-fd-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return (name) => {
    const path = join(dir, name)
    writeFileSync(path, name)
    const fd = openSync(path, 'r')
    return { fd, id: openOn(fd)! }
  }
}

t.test('listening on an fd that cannot listen fails with a stable code and closes the fd', async (t) => {
  const file = tempFiles(t)('not-a-socket')
  const server = net.createServer()
  const err = await listenOnFd(server, { host: '127.0.0.1', port: 15081, fd: file.fd }).catch((e: unknown) => e)
  t.match(err, { code: ListenErrorCode.listenFailed, details: { address: '127.0.0.1:15081' } })
  t.not(openOn(file.fd), file.id, 'the fd no longer refers to it: closed')
  t.notOk(server.listening)
})

t.test('an fd the server closed itself before failing is not closed again (its number may be reused)', async (t) => {
  const files = tempFiles(t)
  const first = files('adopted')
  let reused: { fd: number; id: string } | null = null
  // As node does when it adopted the socket and its own listen() failed: the fd closed, then an error.
  class AdoptingServer extends net.Server {
    override listen(): this {
      closeSync(first.fd)
      reused = files('reused')
      process.nextTick(() => this.emit('error', Object.assign(new Error('listen EINVAL'), { code: 'EINVAL' })))
      return this
    }
  }
  const err = await listenOnFd(new AdoptingServer(), { host: '127.0.0.1', port: 15082, fd: first.fd }).catch((e: unknown) => e)
  t.match(err, { code: ListenErrorCode.listenFailed })
  t.ok(reused !== null)
  const r = reused as unknown as { fd: number; id: string }
  t.equal(r.fd, first.fd, 'the number was reused (the case this guards)')
  t.equal(openOn(r.fd), r.id, 'what now holds the number is still open')
  closeSync(r.fd)
})

t.test('a socket that cannot be made on an fd closes the fd', async (t) => {
  const file = tempFiles(t)('not-a-socket')
  t.throws(() => socketFromFd(file.fd))
  t.not(openOn(file.fd), file.id, 'closed')
})
