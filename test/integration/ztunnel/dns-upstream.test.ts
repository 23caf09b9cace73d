// The UDP forwarder of ztunnel's DNS proxy (src/ztunnel/dns/upstream.ts) against fake upstreams on
// 127.x port 0: the client's ID restored, a reply from the wrong address ignored, the next server
// after a timeout, TC answered again over TCP for a TCP client, coded errors.
import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import net from 'node:net'
import { randomInt } from 'node:crypto'
import { buildResponse, decodeMessage, DnsClass, DnsType, encodeMessage, type DnsMessage } from '../../../src/ztunnel/dns/message.js'
import { createUdpUpstream, DnsUpstreamErrorCode } from '../../../src/ztunnel/dns/upstream.js'

const ip = `127.${20 + randomInt(200)}.${randomInt(250)}.55`

const query: DnsMessage = {
  header: { id: 4242, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 },
  questions: [{ name: 'www.example.com', type: DnsType.A, class: DnsClass.IN }],
  answers: [],
  authorities: [],
  additionals: [],
  edns: undefined,
}

function answer(to: DnsMessage, address: string, tc = false): Buffer {
  const r = buildResponse(to, {
    rcode: 0,
    answers: [{ name: to.questions[0]!.name, type: DnsType.A, class: DnsClass.IN, ttl: 1, data: { kind: 'a', address } }],
  })
  return encodeMessage({ ...r, header: { ...r.header, tc } })
}

async function udpSocket(
  t: Test,
  onQuery?: (q: DnsMessage, reply: (b: Buffer) => void, socket: dgram.Socket, rinfo: dgram.RemoteInfo) => void,
): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4')
  socket.on('message', (msg, rinfo) => {
    const d = decodeMessage(msg)
    if (d.ok && onQuery) onQuery(d.message, (b) => socket.send(b, rinfo.port, rinfo.address), socket, rinfo)
  })
  await new Promise<void>((resolve) => socket.bind(0, ip, resolve))
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())))
  return socket
}

const addressOf = (reply: Buffer): string | undefined => {
  const d = decodeMessage(reply)
  const data = d.ok ? d.message.answers[0]?.data : undefined
  return data?.kind === 'a' ? data.address : undefined
}

t.test('the reply comes back under the client ID; a reply from another address is ignored', async (t) => {
  const spoofer = await udpSocket(t)
  // The upstream answers with the (random) ID it saw; the forwarder puts the client's back.
  const server = await udpSocket(t, (q, reply, _s, rinfo) => {
    spoofer.send(answer(q, '6.6.6.6'), rinfo.port, rinfo.address, () => reply(answer(q, '1.2.3.4')))
  })
  const upstream = createUdpUpstream({ servers: [{ host: ip, port: server.address().port }], timeoutMs: 5000 })
  t.teardown(() => upstream.close())
  const reply = await upstream.forward(encodeMessage(query))
  t.equal(reply.readUInt16BE(0), 4242)
  t.equal(addressOf(reply), '1.2.3.4')
  t.same(upstream.servers, [`${ip}:${server.address().port}`])
})

t.test('a silent server times out and the next one is asked; all silent → DNS_UPSTREAM_TIMEOUT', async (t) => {
  const silent = await udpSocket(t)
  const good = await udpSocket(t, (q, reply) => reply(answer(q, '1.2.3.4')))
  const both = createUdpUpstream({
    servers: [
      { host: ip, port: silent.address().port },
      { host: ip, port: good.address().port },
    ],
    timeoutMs: 100,
  })
  t.teardown(() => both.close())
  t.equal(addressOf(await both.forward(encodeMessage(query))), '1.2.3.4')
  const none = createUdpUpstream({ servers: [{ host: ip, port: silent.address().port }], timeoutMs: 50 })
  t.teardown(() => none.close())
  await t.rejects(none.forward(encodeMessage(query)), { code: DnsUpstreamErrorCode.timeout })
  const empty = createUdpUpstream({ servers: [] })
  await t.rejects(empty.forward(encodeMessage(query)), { code: DnsUpstreamErrorCode.failed })
  await empty.close()
  await t.rejects(empty.forward(encodeMessage(query)), { code: DnsUpstreamErrorCode.closed })
})

t.test('truncated over UDP: asked again over TCP for a TCP client only', async (t) => {
  const udp = await udpSocket(t, (q, reply) => reply(answer(q, '0.0.0.1', true)))
  const tcp = net.createServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      const d = decodeMessage(chunk.subarray(2))
      if (!d.ok) return socket.destroy()
      const body = answer(d.message, '1.2.3.4')
      const len = Buffer.alloc(2)
      len.writeUInt16BE(body.length, 0)
      socket.end(Buffer.concat([len, body]))
    })
  })
  await new Promise<void>((resolve) => tcp.listen(udp.address().port, ip, resolve))
  t.teardown(() => new Promise<void>((resolve) => tcp.close(() => resolve())))
  const upstream = createUdpUpstream({ servers: [{ host: ip, port: udp.address().port }], timeoutMs: 5000 })
  t.teardown(() => upstream.close())
  t.equal(addressOf(await upstream.forward(encodeMessage(query), 'udp')), '0.0.0.1', 'UDP client: the truncated reply, TC for it to retry')
  const overTcp = await upstream.forward(encodeMessage(query), 'tcp')
  t.equal(addressOf(overTcp), '1.2.3.4', 'TCP client: the full reply')
  t.equal(overTcp.readUInt16BE(0), 4242)
})
