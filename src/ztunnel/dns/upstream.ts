// Forwarding a query ztunnel does not answer itself to the upstream resolver, over UDP (ztunnel
// forwards to the resolvers of its own resolv.conf). The query is sent as the client wrote it (its
// EDNS offer included, so the upstream honours the client's size limit) under a fresh ID, and the
// reply goes back with the client's ID. Servers are tried in order, each for `timeoutMs`; when all
// fail the caller answers SERVFAIL.
//
// One UDP socket per address family, shared by every query: replies are matched on (upstream
// address, ID), so a reply from anyone else, or to an ID not pending, is dropped (RFC 5452 §9.1).
// A client that asked over TCP gets its truncated (TC) upstream reply asked again over TCP to the
// same server, since it came to TCP because it wanted the whole answer.
import dgram from 'node:dgram'
import net from 'node:net'
import { randomInt } from 'node:crypto'
import { isIP, isIPv6 } from 'node:net'
import ipaddr from 'ipaddr.js'
import { AmbientError } from '../../errors.js'
import { formatHostPort, isValidPort } from '../../net/address.js'

export const DnsUpstreamErrorCode = {
  timeout: 'DNS_UPSTREAM_TIMEOUT',
  failed: 'DNS_UPSTREAM_FAILED',
  closed: 'DNS_UPSTREAM_CLOSED',
} as const

/** Default per-server timeout: resolv.conf's `timeout` default is 5 s. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 5_000

export interface UpstreamServer {
  readonly host: string
  readonly port: number
}

export interface DnsUpstream {
  /** Description for logs and config dumps: `127.0.0.53:53`. */
  readonly servers: readonly string[]
  /**
   * Resolves with the upstream's reply (the query's own ID restored), rejects with a coded error.
   * `protocol` is the client's: a truncated UDP reply is asked again over TCP for a TCP client.
   */
  forward(query: Buffer, protocol?: 'udp' | 'tcp'): Promise<Buffer>
  close(): Promise<void>
}

export interface UdpUpstreamOptions {
  /** IP addresses in canonical text (parseUpstreamServer gives them so). */
  readonly servers: readonly UpstreamServer[]
  readonly timeoutMs?: number
}

interface Pending {
  readonly key: string
  readonly resolve: (reply: Buffer) => void
}

export function createUdpUpstream(options: UdpUpstreamOptions): DnsUpstream {
  const timeoutMs = options.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS
  const sockets = new Map<'udp4' | 'udp6', dgram.Socket>()
  const pending = new Map<string, Pending>()
  let closed = false

  const socketFor = (family: 'udp4' | 'udp6'): dgram.Socket => {
    let socket = sockets.get(family)
    if (socket) return socket
    socket = dgram.createSocket(family)
    socket.on('message', (reply, rinfo) => {
      if (reply.length < 12) return
      const key = `${formatHostPort(rinfo.address, rinfo.port)}#${reply.readUInt16BE(0)}`
      pending.get(key)?.resolve(reply)
    })
    // Errors on a connectionless socket (ICMP unreachable) belong to no one query: the timeout answers.
    socket.on('error', () => undefined)
    socket.unref()
    sockets.set(family, socket)
    return socket
  }

  const once = (server: UpstreamServer, query: Buffer): Promise<Buffer> => {
    const where = formatHostPort(server.host, server.port)
    let id = randomInt(0x10000)
    for (let tries = 0; pending.has(`${where}#${id}`) && tries < 16; tries++) id = randomInt(0x10000)
    const key = `${where}#${id}`
    if (pending.has(key)) {
      return Promise.reject(new AmbientError(DnsUpstreamErrorCode.failed, `too many queries pending at ${where}`, { side: 'upstream' }))
    }
    const wire = Buffer.from(query)
    wire.writeUInt16BE(id, 0)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(key)
        reject(
          new AmbientError(DnsUpstreamErrorCode.timeout, `no answer from upstream ${where} within ${timeoutMs} ms`, {
            side: 'upstream',
            details: { upstream: where },
          }),
        )
      }, timeoutMs)
      pending.set(key, {
        key,
        resolve: (reply) => {
          clearTimeout(timer)
          pending.delete(key)
          const out = Buffer.from(reply)
          out.writeUInt16BE(query.readUInt16BE(0), 0)
          resolve(out)
        },
      })
      socketFor(isIPv6(server.host) ? 'udp6' : 'udp4').send(wire, server.port, server.host, (err) => {
        if (!err) return
        clearTimeout(timer)
        pending.delete(key)
        reject(
          new AmbientError(DnsUpstreamErrorCode.failed, `cannot send to upstream ${where}: ${err.message}`, {
            side: 'upstream',
            cause: err,
            details: { upstream: where },
          }),
        )
      })
    })
  }

  const overTcp = (server: UpstreamServer, query: Buffer): Promise<Buffer> => {
    const where = formatHostPort(server.host, server.port)
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: server.host, port: server.port, noDelay: true })
      const chunks: Buffer[] = []
      let received = 0
      const fail = (code: string, message: string, cause?: unknown): void => {
        socket.destroy()
        reject(new AmbientError(code, message, { side: 'upstream', cause, details: { upstream: where } }))
      }
      socket.setTimeout(timeoutMs, () =>
        fail(DnsUpstreamErrorCode.timeout, `no answer from upstream ${where} over TCP within ${timeoutMs} ms`),
      )
      socket.on('error', (err) => fail(DnsUpstreamErrorCode.failed, `upstream ${where} over TCP: ${err.message}`, err))
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        received += chunk.length
        if (received < 2) return
        const all = Buffer.concat(chunks)
        const length = all.readUInt16BE(0)
        if (all.length < 2 + length) return
        socket.destroy()
        resolve(Buffer.from(all.subarray(2, 2 + length)))
      })
      socket.on('end', () => fail(DnsUpstreamErrorCode.failed, `upstream ${where} closed the TCP connection before answering`))
      const frame = Buffer.alloc(2 + query.length)
      frame.writeUInt16BE(query.length, 0)
      query.copy(frame, 2)
      socket.write(frame)
    })
  }

  return {
    servers: options.servers.map((s) => formatHostPort(s.host, s.port)),
    async forward(query, protocol = 'udp') {
      if (closed) throw new AmbientError(DnsUpstreamErrorCode.closed, 'upstream forwarder closed', { side: 'internal' })
      let last: unknown = new AmbientError(DnsUpstreamErrorCode.failed, 'no upstream servers configured', { side: 'config' })
      for (const server of options.servers) {
        try {
          const reply = await once(server, query)
          const truncated = reply.length >= 4 && (reply.readUInt16BE(2) & 0x0200) !== 0
          return truncated && protocol === 'tcp' ? await overTcp(server, query) : reply
        } catch (err) {
          last = err
        }
      }
      throw last
    },
    async close() {
      closed = true
      await Promise.all([...sockets.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
      sockets.clear()
    },
  }
}

/** `1.2.3.4`, `1.2.3.4:53`, `[::1]:53`, `::1` → host and port (default 53); IP addresses only. */
export function parseUpstreamServer(text: string): UpstreamServer | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracketed) return withPort(bracketed[1]!, bracketed[2])
  if (isIPv6(text)) return { host: text, port: 53 }
  const plain = /^([^:]+)(?::(\d+))?$/.exec(text)
  if (plain) return withPort(plain[1]!, plain[2])
  return undefined
}

function withPort(host: string, port: string | undefined): UpstreamServer | undefined {
  const n = port === undefined ? 53 : Number(port)
  if (isIP(host) === 0) return undefined
  // Canonical text: replies are matched on the address the socket reports, which is canonical.
  host = ipaddr.parse(host).toString()
  if (!isValidPort(n)) return undefined
  return { host, port: n }
}
