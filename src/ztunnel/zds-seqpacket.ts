// The real ZDS transport: a unix SOCK_SEQPACKET connection to istio-cni's node agent (INPOD_UDS),
// with the network namespace of each AddWorkload received as an SCM_RIGHTS file descriptor, through
// the in-pod capture addon (native/capture). The addon's receive is a poll with a timeout, so
// receive() polls with timeout 0 and waits pollMs between empty polls, never blocking the loop.
import type { CaptureAddon } from '../capture/inpod/addon.js'
import type { ZdsConnection, ZdsPacket, ZdsTransport } from './zds.js'

type SeqpacketAddon = Pick<CaptureAddon, 'seqpacketConnect' | 'seqpacketSend' | 'seqpacketRecv' | 'close'>

export function seqpacketZdsTransport(addon: SeqpacketAddon, options: { pollMs?: number } = {}): ZdsTransport {
  const pollMs = options.pollMs ?? 20
  return {
    async connect(path: string): Promise<ZdsConnection> {
      const fd = addon.seqpacketConnect(path)
      let closed = false
      return {
        async send(bytes) {
          if (closed) throw new Error('ZDS connection closed')
          addon.seqpacketSend(fd, Buffer.from(bytes), [])
        },
        async receive(): Promise<ZdsPacket | undefined> {
          for (;;) {
            if (closed) return undefined
            const m = addon.seqpacketRecv(fd, 1 << 16, 0)
            if (m !== null) {
              if (m.data.length === 0 && m.fds.length === 0) return undefined // the agent closed
              // One fd per AddWorkload; any extra is closed rather than leaked.
              for (const extra of m.fds.slice(1)) addon.close(extra)
              return m.fds[0] === undefined ? { bytes: m.data } : { bytes: m.data, fd: m.fds[0] }
            }
            await new Promise((resolve) => setTimeout(resolve, pollMs))
          }
        },
        close() {
          if (closed) return
          closed = true
          addon.close(fd)
        },
      }
    },
  }
}
