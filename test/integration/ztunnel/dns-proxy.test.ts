// ztunnel's DNS proxy on real sockets, asked by Node's own resolver (c-ares) as a pod's stub resolver
// would: mesh names answered by the proxy, the rest forwarded to a fake upstream on 127.x, upstream
// timeout → SERVFAIL, no upstream → NXDOMAIN, unknown pod → SERVFAIL, malformed → FORMERR, UDP
// truncation falling back to TCP, TCP framing (pipelined, half-closed), handed-over sockets, metrics
// and rate-limited failure lines. Every socket is on 127.x with port 0.
import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import net from 'node:net'
import { randomInt } from 'node:crypto'
import { Resolver } from 'node:dns/promises'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { createMetrics } from '../../../src/observability/metrics.js'
import {
  buildResponse,
  decodeMessage,
  DnsClass,
  DnsRcode,
  DnsType,
  encodeMessage,
  type DnsMessage,
} from '../../../src/ztunnel/dns/message.js'
import { createDnsProxy, type DnsProxyOptions } from '../../../src/ztunnel/dns/proxy.js'
import { createUdpUpstream, parseUpstreamServer } from '../../../src/ztunnel/dns/upstream.js'
import { eventually } from '../../helpers/eventually.js'
import { meshView, service, workload } from '../../helpers/mesh-view.js'

const base = `127.${20 + randomInt(200)}.${randomInt(250)}`
const proxyIp = `${base}.53`
const upstreamIp = `${base}.54`

const curl = workload({ name: 'curl', addresses: ['10.244.1.1'] })
const sleep = workload({ name: 'sleep', namespace: 'other', addresses: ['10.244.1.2'] })
const many = Array.from({ length: 150 }, (_, i) =>
  workload({
    name: `big-${i}`,
    addresses: [`10.244.${2 + (i >> 8)}.${i & 0xff}`],
    services: { 'default/big.default.svc.cluster.local': [[80, 80]] },
  }),
)
const mesh = meshView({
  workloads: [curl, sleep, ...many],
  services: [
    service({ name: 'reviews', addresses: ['10.96.0.5'] }),
    service({ name: 'big', addresses: [] }),
    service({ name: 'httpbin', namespace: 'other', hostname: 'httpbin.org', addresses: ['240.240.0.1'] }),
  ],
})

/**
 * The fake upstream: www.example.com → 93.184.216.34, big.example.com → 100 addresses whatever the
 * client's size limit, slow.example.com never answers, else NXDOMAIN.
 */
async function startUpstream(t: Test): Promise<{ port: number; queries: string[] }> {
  const socket = dgram.createSocket('udp4')
  const queries: string[] = []
  socket.on('message', (msg, rinfo) => {
    const decoded = decodeMessage(msg)
    if (!decoded.ok) return
    const q = decoded.message.questions[0]
    queries.push(q?.name ?? '')
    if (q?.name === 'slow.example.com') return
    const found = q?.name === 'www.example.com' || q?.name === 'big.example.com'
    const addresses = q?.name === 'big.example.com' ? Array.from({ length: 100 }, (_, i) => `10.1.0.${i}`) : ['93.184.216.34']
    const reply = buildResponse(decoded.message, {
      rcode: found ? DnsRcode.noError : DnsRcode.nxDomain,
      answers: found
        ? addresses.map((address) => ({
            name: q.name,
            type: DnsType.A,
            class: DnsClass.IN,
            ttl: 300,
            data: { kind: 'a' as const, address },
          }))
        : [],
    })
    socket.send(encodeMessage(reply), rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, upstreamIp, resolve))
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())))
  return { port: socket.address().port, queries }
}

async function startProxy(t: Test, extra: Partial<DnsProxyOptions> = {}, workloadUid = curl.uid) {
  const log = createCapturingLogger()
  const metrics = createMetrics()
  const proxy = createDnsProxy({ state: mesh, logger: log.logger, metrics, ...extra })
  const listener = await proxy.listen({ host: proxyIp, port: 0 }, { workloadUid })
  t.teardown(() => proxy.close())
  t.equal(listener.udp.port, listener.tcp.port, 'UDP and TCP on one port')
  const resolver = new Resolver({ timeout: 5000, tries: 1 })
  resolver.setServers([`${proxyIp}:${listener.udp.port}`])
  return { proxy, listener, resolver, log, metrics, port: listener.udp.port }
}

function query(name: string, type: number = DnsType.A, id = 7): DnsMessage {
  return {
    header: { id, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 },
    questions: [{ name, type, class: DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: undefined,
  }
}

async function udpExchange(port: number, payload: Buffer): Promise<Buffer> {
  const socket = dgram.createSocket('udp4')
  try {
    await new Promise<void>((resolve) => socket.bind(0, proxyIp, resolve))
    const reply = new Promise<Buffer>((resolve) => socket.once('message', (m) => resolve(m)))
    socket.send(payload, port, proxyIp)
    return await reply
  } finally {
    socket.close()
  }
}

async function tcpExchange(port: number, payload: Buffer): Promise<Buffer> {
  const socket = net.connect({ host: proxyIp, port, allowHalfOpen: true })
  try {
    const length = Buffer.alloc(2)
    length.writeUInt16BE(payload.length, 0)
    socket.end(Buffer.concat([length, payload]))
    const chunks: Buffer[] = []
    for await (const c of socket) chunks.push(c as Buffer)
    return Buffer.concat(chunks).subarray(2)
  } finally {
    socket.destroy()
  }
}

t.test('mesh names from the proxy, the rest from the upstream (Node resolver over UDP)', async (t) => {
  const upstream = await startUpstream(t)
  const forwarder = createUdpUpstream({ servers: [{ host: upstreamIp, port: upstream.port }], timeoutMs: 300 })
  t.teardown(() => forwarder.close())
  const { resolver, metrics, log } = await startProxy(t, { upstream: forwarder })

  for (const name of ['reviews', 'reviews.default', 'reviews.default.svc', 'reviews.default.svc.cluster.local']) {
    t.same(await resolver.resolve4(name, { ttl: true }), [{ address: '10.96.0.5', ttl: 30 }], name)
  }
  t.same(await resolver.resolve4('httpbin.org'), ['240.240.0.1'], 'ServiceEntry-like host')
  await t.rejects(resolver.resolve6('reviews'), { code: 'ENODATA' }, 'AAAA of a v4-only Service: NOERROR, no records')
  t.same(await resolver.resolve4('www.example.com'), ['93.184.216.34'], 'forwarded')
  await t.rejects(resolver.resolve4('nope.example.com'), { code: 'ENOTFOUND' }, "the upstream's NXDOMAIN")
  await t.rejects(resolver.resolve4('slow.example.com'), { code: 'ESERVFAIL' }, 'upstream timeout → SERVFAIL')
  await t.rejects(resolver.resolve4('slow.example.com'), { code: 'ESERVFAIL' })
  t.notOk(upstream.queries.includes('reviews'), 'mesh names never reach the upstream')

  const text = await metrics.render()
  t.match(
    text,
    /istio_dns_requests_total\{request_query_type="a",request_protocol="udp",source_canonical_service="curl",source_canonical_revision="latest"\} 9/,
  )
  t.match(text, /istio_dns_requests_total\{request_query_type="aaaa",request_protocol="udp",[^}]*\} 1/)
  t.match(text, /istio_dns_upstream_requests_total\{request_query_type="a",[^}]*\} 4/)
  t.match(text, /istio_dns_upstream_failures_total\{request_query_type="a",[^}]*\} 2/)
  t.match(text, /istio_dns_upstream_request_duration_seconds_count\{request_query_type="a",[^}]*\} 4/)

  // Two timeouts, one warn line (rate-limited per kind); the per-query lines are debug.
  const failures = log.filter((r) => r.event === 'dns_failure' && r.kind === 'DNS_UPSTREAM_TIMEOUT')
  t.equal(failures.length, 1, 'one line for two failures within the interval')
  t.match(failures[0], { level: 'warn', scope: 'dns', domain: 'slow.example.com' })
  t.ok(log.filter((r) => r.msg === 'dns query' && r.result === 'success' && r['src.workload'] === 'curl').length >= 4)
})

t.test('an upstream reply larger than the client may take over UDP: TC, then the whole of it over TCP', async (t) => {
  const upstream = await startUpstream(t)
  const forwarder = createUdpUpstream({ servers: [{ host: upstreamIp, port: upstream.port }] })
  t.teardown(() => forwarder.close())
  const { resolver, port } = await startProxy(t, { upstream: forwarder })
  const udp = decodeMessage(await udpExchange(port, encodeMessage(query('big.example.com'))))
  t.same(udp.ok && { tc: udp.message.header.tc, rcode: udp.message.header.rcode, answers: udp.message.answers.length }, {
    tc: true,
    rcode: 0,
    answers: 0,
  })
  t.equal((await resolver.resolve4('big.example.com')).length, 100, 'the resolver retried over TCP')
})

t.test('the client is the pod of the listener: search domains of its namespace', async (t) => {
  const { resolver, port } = await startProxy(t, {}, sleep.uid)
  await t.rejects(resolver.resolve4('reviews'), { code: 'ENOTFOUND' }, 'not a Service of namespace other; no upstream → NXDOMAIN')
  t.same(await resolver.resolve4('reviews.default'), ['10.96.0.5'])
  // The pod's resolver appends its first search domain (ndots:5): ztunnel strips it and answers with
  // a CNAME to the name as written, then the address.
  t.same(await resolver.resolve4('reviews.default.svc.cluster.local.other.svc.cluster.local'), ['10.96.0.5'], 'through the CNAME')
  const raw = decodeMessage(await udpExchange(port, encodeMessage(query('reviews.default.other.svc.cluster.local'))))
  t.same(raw.ok && raw.message.answers.map((a) => [a.name, a.data]), [
    ['reviews.default.other.svc.cluster.local', { kind: 'cname', target: 'reviews.default' }],
    ['reviews.default', { kind: 'a', address: '10.96.0.5' }],
  ])
  t.equal(raw.ok && raw.message.header.aa, true, 'authoritative')
  await t.rejects(
    resolver.resolveSrv('reviews.default'),
    { code: 'ENODATA' },
    'SRV of a mesh name with no upstream: the name exists, no records',
  )
})

t.test('a fully qualified name is expanded once: on the wire, and for other types with no upstream', async (t) => {
  const { port } = await startProxy(t)
  const exchange = async (name: string, type: number = DnsType.A) => {
    const reply = decodeMessage(await udpExchange(port, encodeMessage(query(name, type))))
    if (!reply.ok) throw new Error(`undecodable reply for ${name}`)
    return { rcode: reply.message.header.rcode, answers: reply.message.answers.map((a) => [a.name, a.data]) }
  }
  const fqdn = 'reviews.default.svc.cluster.local'
  t.same(
    await exchange(`${fqdn}.default.svc.cluster.local`),
    {
      rcode: DnsRcode.noError,
      answers: [
        [`${fqdn}.default.svc.cluster.local`, { kind: 'cname', target: fqdn }],
        [fqdn, { kind: 'a', address: '10.96.0.5' }],
      ],
    },
    'the search domain the resolver appended, stripped once: CNAME to the FQDN (names compressed on the wire), then its address',
  )
  t.same(await exchange(fqdn), { rcode: DnsRcode.noError, answers: [[fqdn, { kind: 'a', address: '10.96.0.5' }]] }, 'the FQDN itself')
  t.same(await exchange(fqdn, DnsType.TXT), { rcode: DnsRcode.noError, answers: [] }, 'TXT of the FQDN, no upstream: the name exists')
  t.same(
    await exchange(`${fqdn}.default.svc.cluster.local`, DnsType.TXT),
    { rcode: DnsRcode.nxDomain, answers: [] },
    'TXT of the FQDN + a search domain, no upstream: no such name (kube-dns would say so), so the resolver goes on to the next name',
  )
})

t.test('unknown pod → SERVFAIL; malformed → FORMERR; a response is never answered', async (t) => {
  const { resolver, port, log } = await startProxy(t, {}, 'cluster1//v1/Pod/default/gone')
  await t.rejects(resolver.resolve4('reviews'), { code: 'ESERVFAIL' })
  t.ok(log.filter((r) => r.event === 'dns_failure' && r.kind === 'unknown_source').length === 1)

  const formErr = decodeMessage(await udpExchange(port, Buffer.from('beef0100000100000000000005616263', 'hex')))
  t.same(formErr.ok && { id: formErr.message.header.id, qr: formErr.message.header.qr, rcode: formErr.message.header.rcode }, {
    id: 0xbeef,
    qr: true,
    rcode: DnsRcode.formErr,
  })
  const two = { ...query('a'), questions: [query('a').questions[0]!, query('b').questions[0]!] }
  const twoReply = decodeMessage(await udpExchange(port, encodeMessage(two)))
  t.equal(twoReply.ok && twoReply.message.header.rcode, DnsRcode.formErr, 'two questions → FORMERR')
  const notQuery = { ...query('a'), header: { ...query('a').header, opcode: 2 } }
  const notImp = decodeMessage(await udpExchange(port, encodeMessage(notQuery)))
  t.equal(notImp.ok && notImp.message.header.rcode, DnsRcode.notImp, 'opcode STATUS → NOTIMP')
  // A datagram that claims to be a response, then a short one, then a real query on the same
  // socket: only the query is answered (the first reply seen is the query's).
  const socket = dgram.createSocket('udp4')
  t.teardown(() => socket.close())
  await new Promise<void>((resolve) => socket.bind(0, proxyIp, resolve))
  const replies: Buffer[] = []
  socket.on('message', (m) => replies.push(m))
  socket.send(encodeMessage({ ...query('a', DnsType.A, 1), header: { ...query('a').header, id: 1, qr: true } }), port, proxyIp)
  socket.send(Buffer.from('0102', 'hex'), port, proxyIp)
  socket.send(encodeMessage(query('x', DnsType.A, 3)), port, proxyIp)
  await eventually(() => replies.length >= 1)
  t.same(
    replies.map((r) => r.readUInt16BE(0)),
    [3],
  )
})

t.test('UDP truncates a large answer, the resolver retries over TCP and gets it all', async (t) => {
  const { resolver, metrics } = await startProxy(t)
  const addresses = await resolver.resolve4('big')
  t.equal(addresses.length, 150, 'every headless endpoint, over TCP')
  const text = await metrics.render()
  t.match(text, /istio_dns_requests_total\{request_query_type="a",request_protocol="udp",[^}]*\} 1/)
  t.match(text, /istio_dns_requests_total\{request_query_type="a",request_protocol="tcp",[^}]*\} 1/)
  const udp = decodeMessage(await udpExchange(Number(resolver.getServers()[0]!.split(':')[1]), encodeMessage(query('big'))))
  t.ok(udp.ok && udp.message.header.tc, 'TC over UDP')
  t.equal(udp.ok && udp.message.answers.length, 30, '512 bytes without EDNS: (512 - 12 - 9) / 16 records')
})

t.test('TCP: pipelined queries, answered then closed after the client half-closes', async (t) => {
  const { port } = await startProxy(t)
  const socket = net.connect({ host: proxyIp, port, allowHalfOpen: true })
  t.teardown(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  const frame = (m: DnsMessage): Buffer => {
    const body = encodeMessage(m)
    const out = Buffer.alloc(2 + body.length)
    out.writeUInt16BE(body.length, 0)
    body.copy(out, 2)
    return out
  }
  // Two queries in one write, the second split across writes, then FIN.
  const second = frame(query('httpbin.org', DnsType.A, 2))
  socket.write(Buffer.concat([frame(query('reviews', DnsType.A, 1)), second.subarray(0, 5)]))
  socket.end(second.subarray(5))
  const chunks: Buffer[] = []
  for await (const c of socket) chunks.push(c as Buffer)
  const all = Buffer.concat(chunks)
  const replies: DnsMessage[] = []
  for (let at = 0; at < all.length;) {
    const len = all.readUInt16BE(at)
    const d = decodeMessage(all.subarray(at + 2, at + 2 + len))
    if (d.ok) replies.push(d.message)
    at += 2 + len
  }
  const byId = new Map(replies.map((r) => [r.header.id, r]))
  t.same(
    byId.get(1)?.answers.map((a) => a.data),
    [{ kind: 'a', address: '10.96.0.5' }],
  )
  t.same(
    byId.get(2)?.answers.map((a) => a.data),
    [{ kind: 'a', address: '240.240.0.1' }],
    'a host of another namespace, none of the client’s',
  )
  t.equal(replies.length, 2, 'both answered, then our FIN')
})

t.test('TCP: 200 pipelined queries are all answered (reading pauses at 64 in flight); an idle connection is closed', async (t) => {
  const { port } = await startProxy(t, { tcpIdleTimeoutMs: 100 })
  const frames = Array.from({ length: 200 }, (_, i) => {
    const body = encodeMessage(query('reviews', DnsType.A, i))
    const len = Buffer.alloc(2)
    len.writeUInt16BE(body.length, 0)
    return Buffer.concat([len, body])
  })
  const socket = net.connect({ host: proxyIp, port, allowHalfOpen: true })
  t.teardown(() => socket.destroy())
  socket.end(Buffer.concat(frames))
  const chunks: Buffer[] = []
  for await (const c of socket) chunks.push(c as Buffer)
  const all = Buffer.concat(chunks)
  const ids = new Set<number>()
  for (let at = 0; at < all.length; at += 2 + all.readUInt16BE(at)) ids.add(all.readUInt16BE(at + 2))
  t.equal(ids.size, 200)

  const idle = net.connect({ host: proxyIp, port })
  t.teardown(() => idle.destroy())
  idle.on('error', () => undefined)
  await new Promise((resolve) => idle.once('close', resolve))
  t.pass('closed by the server after the idle timeout')
})

t.test('handed-over sockets (in-pod capture): serveUdp and serveTcp', async (t) => {
  const log = createCapturingLogger()
  const proxy = createDnsProxy({ state: mesh, logger: log.logger, metrics: createMetrics() })
  t.teardown(() => proxy.close())
  const udp = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => udp.bind(0, proxyIp, resolve))
  const tcp = net.createServer({ allowHalfOpen: true })
  await new Promise<void>((resolve) => tcp.listen(udp.address().port, proxyIp, resolve))
  const servedUdp = proxy.serveUdp(udp, { workloadUid: curl.uid })
  proxy.serveTcp(tcp, { workloadUid: sleep.uid })
  const reply = decodeMessage(await udpExchange(udp.address().port, encodeMessage(query('reviews'))))
  t.same(reply.ok && reply.message.answers.map((a) => a.data), [{ kind: 'a', address: '10.96.0.5' }], 'UDP listener: pod curl (default)')
  const tcpReply = decodeMessage(await tcpExchange(udp.address().port, encodeMessage(query('reviews'))))
  t.equal(tcpReply.ok && tcpReply.message.header.rcode, DnsRcode.nxDomain, 'TCP listener: pod sleep (other), no upstream')
  await servedUdp.close()
  t.throws(() => udp.address(), 'closing the serving closes the socket')
  await proxy.close()
  t.notOk(tcp.listening, 'proxy.close() closes the TCP server it was given')
})

t.test('parseUpstreamServer', async (t) => {
  t.same(parseUpstreamServer('10.0.0.10'), { host: '10.0.0.10', port: 53 })
  t.same(parseUpstreamServer('127.0.0.53:5353'), { host: '127.0.0.53', port: 5353 })
  t.same(parseUpstreamServer('[fd00::a]:53'), { host: 'fd00::a', port: 53 })
  t.same(parseUpstreamServer('fd00::a'), { host: 'fd00::a', port: 53 })
  t.same(parseUpstreamServer('[FD00:0::A]:53'), { host: 'fd00::a', port: 53 }, 'canonical text')
  t.equal(parseUpstreamServer('dns.example:53'), undefined, 'an IP, not a name')
  t.equal(parseUpstreamServer('10.0.0.10:0'), undefined)
  t.equal(parseUpstreamServer('10.0.0.10:x'), undefined)
})
