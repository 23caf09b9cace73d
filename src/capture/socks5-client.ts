// A minimal SOCKS5 client (RFC 1928, NO AUTH, CONNECT): how the sample apps, `ambient exec` and the
// load generators reach the mesh through a pod's capture listener. It sends the greeting, the request
// and any early data in one write, as optimistic clients do (so tests also exercise the server's
// handling of pipelined bytes). Bytes the server sends after its reply are unshifted, so the returned
// socket's first read sees them.
import net from 'node:net'
import { AmbientError } from '../errors.js'

export type SocksTarget = { readonly host: string; readonly port: number } | { readonly ip: string; readonly port: number }

export interface SocksConnectOptions {
  /** Written right after the request, before the reply arrives. */
  readonly earlyData?: Buffer | string
}

export type SocksClientErrorCode = 'SOCKS_NO_ACCEPTABLE_METHOD' | 'SOCKS_REPLY' | 'SOCKS_CLOSED' | 'SOCKS_BAD_REPLY'

export class SocksClientError extends AmbientError {
  declare readonly code: SocksClientErrorCode
  readonly replyCode: number | undefined

  constructor(code: SocksClientErrorCode, message: string, replyCode?: number) {
    super(code, message, { side: 'upstream' })
    this.replyCode = replyCode
  }
}

export function encodeRequest(target: SocksTarget, command = 0x01): Buffer {
  const port = [target.port >> 8, target.port & 0xff]
  if ('host' in target) {
    const name = Buffer.from(target.host, 'latin1')
    return Buffer.from([0x05, command, 0x00, 0x03, name.length, ...name, ...port])
  }
  if (net.isIPv4(target.ip)) {
    return Buffer.from([0x05, command, 0x00, 0x01, ...target.ip.split('.').map(Number), ...port])
  }
  return Buffer.from([0x05, command, 0x00, 0x04, ...ipv6Bytes(target.ip), ...port])
}

/** Connects through the proxy; rejects with a SocksClientError carrying the reply code on refusal. */
export async function connect(
  proxyHost: string,
  proxyPort: number,
  target: SocksTarget,
  options: SocksConnectOptions = {},
): Promise<net.Socket> {
  const socket = net.connect({ host: proxyHost, port: proxyPort, allowHalfOpen: true, noDelay: true })
  socket.on('error', () => undefined) // surfaced through readExactly's rejection
  const early = options.earlyData === undefined ? Buffer.alloc(0) : Buffer.from(options.earlyData)
  socket.write(Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), encodeRequest(target), early]))
  try {
    const method = await readExactly(socket, 2)
    if (method[1] !== 0x00) {
      throw new SocksClientError('SOCKS_NO_ACCEPTABLE_METHOD', `server selected method ${method[1]}`)
    }
    const head = await readExactly(socket, 4)
    if (head[0] !== 0x05) throw new SocksClientError('SOCKS_BAD_REPLY', `bad reply header ${head.toString('hex')}`)
    await readExactly(socket, (await boundAddressLength(socket, head[3]!)) + 2)
    if (head[1] !== 0x00) {
      throw new SocksClientError('SOCKS_REPLY', `server replied ${head[1]}`, head[1])
    }
    return socket
  } catch (err) {
    socket.destroy()
    throw err
  }
}

async function boundAddressLength(socket: net.Socket, addressType: number): Promise<number> {
  switch (addressType) {
    case 0x01:
      return 4
    case 0x04:
      return 16
    case 0x03:
      return (await readExactly(socket, 1))[0]!
    default:
      throw new SocksClientError('SOCKS_BAD_REPLY', `bad reply address type ${addressType}`)
  }
}

/**
 * Reads exactly n bytes from a paused-or-flowing socket, leaving anything after them unread.
 * Rejects with SOCKS_CLOSED if the socket ends first.
 */
export function readExactly(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0)
    const cleanup = (): void => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onError)
    }
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      if (buffered.length < n) return
      cleanup()
      socket.pause()
      if (buffered.length > n) socket.unshift(buffered.subarray(n))
      resolve(buffered.subarray(0, n))
    }
    const onEnd = (): void => {
      cleanup()
      reject(new SocksClientError('SOCKS_CLOSED', `socket closed after ${buffered.length} of ${n} bytes`))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(new SocksClientError('SOCKS_CLOSED', `socket error after ${buffered.length} of ${n} bytes: ${err.message}`))
    }
    if (n === 0) return resolve(Buffer.alloc(0))
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('close', onEnd)
    socket.on('error', onError)
    socket.resume()
  })
}

/**
 * Everything the socket delivers until the peer's FIN, a reset or a close; then destroys it (the
 * client is half-open, so a FIN alone would leave it open).
 */
export function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const done = (): void => {
      socket.destroy()
      resolve(Buffer.concat(chunks))
    }
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => undefined)
    socket.once('end', done)
    socket.once('close', done)
    socket.resume()
  })
}

function ipv6Bytes(ip: string): number[] {
  const [head = '', tail = ''] = ip.split('::')
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const h = groups(head)
  const t = ip.includes('::') ? groups(tail) : []
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t]
  return all.flatMap((g) => [g >> 8, g & 0xff])
}
