// A test peer that plays istio-cni's side of ZDS on a real unix SOCK_SEQPACKET socket (python3:
// Node cannot listen on SEQPACKET nor send fds): listen on a path, accept ztunnel and read its
// hello, send WorkloadRequests (an add with the fd of a network namespace, by SCM_RIGHTS) and read
// each Ack, hang up (close the connection and the listener, unlink the path) and listen again.
// One command a line on the peer's stdin, one answer a line on its stdout; every wait is bounded.
import { spawn } from 'node:child_process'
import type { Test } from 'tap'
import { istio } from '../../src/xds/gen/messages.js'

const zds = istio.workload.zds

const PEER = `
import socket, sys, os
s = None
c = None
for line in sys.stdin:
    cmd, *args = line.split()
    try:
        if cmd == 'listen':
            if os.path.exists(args[0]): os.unlink(args[0])
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(args[0]); s.listen(1)
            out = 'ok'
        elif cmd == 'accept':
            s.settimeout(20); c, _ = s.accept(); c.settimeout(20)
            out = 'ok ' + c.recv(1024).hex()
        elif cmd == 'send':
            data = bytes.fromhex(args[0])
            if len(args) > 1:
                fd = os.open(args[1], os.O_RDONLY)
                socket.send_fds(c, [data], [fd])
                os.close(fd)
            else:
                c.send(data)
            out = 'ok ' + c.recv(1024).hex()
        elif cmd == 'hangup':
            if c: c.close()
            if s: s.close()
            c = None; s = None
            if os.path.exists(args[0]): os.unlink(args[0])
            out = 'ok'
        else:
            out = 'err unknown command'
    except Exception as e:
        out = 'err ' + repr(e).replace(chr(10), ' ')
    print(out, flush=True)
`

export interface ZdsPeer {
  listen(path: string): Promise<void>
  /** Accepts ztunnel's connection; resolves with the version of its ZdsHello. */
  accept(): Promise<number>
  /** Sends one request (with the namespace at netnsPath as an fd) and resolves with its Ack's error text. */
  request(req: istio.workload.zds.IWorkloadRequest, netnsPath?: string): Promise<string>
  hangUp(path: string): Promise<void>
}

export function startZdsPeer(t: Test): ZdsPeer {
  const proc = spawn('python3', ['-c', PEER], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  let buf = ''
  let stderr = ''
  const waiting: ((line: string) => void)[] = []
  proc.stdout.on('data', (c: Buffer) => {
    buf += c.toString()
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      waiting.shift()?.(line)
    }
  })
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const command = (line: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ZDS peer: no answer to "${line}" (${stderr})`)), 30_000)
      waiting.push((answer) => {
        clearTimeout(timer)
        if (answer.startsWith('ok')) resolve(answer.slice(3))
        else reject(new Error(`ZDS peer: ${line.split(' ')[0]}: ${answer}`))
      })
      proc.stdin.write(line + '\n')
    })
  return {
    listen: async (path) => {
      await command(`listen ${path}`)
    },
    accept: async () => zds.ZdsHello.decode(Buffer.from(await command('accept'), 'hex')).version ?? 0,
    request: async (req, netnsPath) => {
      const hex = Buffer.from(zds.WorkloadRequest.encode(req).finish()).toString('hex')
      const ack = zds.WorkloadResponse.decode(
        Buffer.from(await command(`send ${hex}${netnsPath === undefined ? '' : ` ${netnsPath}`}`), 'hex'),
      )
      if (!ack.ack) throw new Error('ZDS peer: the answer is not an Ack')
      return ack.ack.error ?? ''
    },
    hangUp: async (path) => {
      await command(`hangup ${path}`)
    },
  }
}
