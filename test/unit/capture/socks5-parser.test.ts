import t from 'tap'
import { feedSocks5, initialSocks5State, type Socks5ParserOutput, type Socks5ParserState } from '../../../src/capture/socks5-parser.js'

const GREETING = [0x05, 0x01, 0x00]
const connectIpv4 = (a: number, b: number, c: number, d: number, port: number): number[] => [
  0x05,
  0x01,
  0x00,
  0x01,
  a,
  b,
  c,
  d,
  port >> 8,
  port & 0xff,
]
const connectDomain = (name: string, port: number): number[] => [
  0x05,
  0x01,
  0x00,
  0x03,
  name.length,
  ...Buffer.from(name, 'latin1'),
  port >> 8,
  port & 0xff,
]
const connectIpv6 = (bytes: number[], port: number): number[] => [0x05, 0x01, 0x00, 0x04, ...bytes, port >> 8, port & 0xff]

/**
 * Feeds `chunks` in order as the server does: once the request is parsed, later chunks are the
 * application's and join the connect payload (the server stops feeding the parser there).
 */
function run(chunks: readonly Buffer[]): { outputs: Socks5ParserOutput[]; state: Socks5ParserState } {
  let state = initialSocks5State()
  const outputs: Socks5ParserOutput[] = []
  for (const chunk of chunks) {
    const last = outputs.at(-1)
    if (state.phase === 'done' && last?.kind === 'connect') {
      outputs[outputs.length - 1] = { ...last, payload: Buffer.concat([last.payload, chunk]) }
      continue
    }
    const step = feedSocks5(state, chunk)
    state = step.state
    outputs.push(...step.outputs)
  }
  return { outputs, state }
}

const whole = (bytes: number[]): Buffer[] => [Buffer.from(bytes)]
const byteByByte = (bytes: number[]): Buffer[] => bytes.map((b) => Buffer.from([b]))
const splitEvery =
  (n: number) =>
  (bytes: number[]): Buffer[] => {
    const out: Buffer[] = []
    for (let i = 0; i < bytes.length; i += n) out.push(Buffer.from(bytes.slice(i, i + n)))
    return out
  }
const CHUNKINGS = { whole, byteByByte, pairs: splitEvery(2), triples: splitEvery(3) }

/** Outputs as plain data, payload as text, so tables read easily. */
function summary(outputs: readonly Socks5ParserOutput[]): unknown[] {
  return outputs.map((o) => (o.kind === 'connect' ? { ...o, payload: o.payload.toString('latin1') } : o))
}

interface Row {
  readonly name: string
  readonly bytes: number[]
  readonly outputs: unknown[]
  readonly phase: Socks5ParserState['phase']
}

const selected = { kind: 'method-selected', method: 0 }
const rows: Row[] = [
  {
    name: 'IPv4 CONNECT',
    bytes: [...GREETING, ...connectIpv4(127, 96, 0, 1, 9080)],
    outputs: [selected, { kind: 'connect', destination: { kind: 'ip', ip: '127.96.0.1', port: 9080 }, payload: '' }],
    phase: 'done',
  },
  {
    name: 'domain CONNECT, lower-cased',
    bytes: [...GREETING, ...connectDomain('Reviews.Default', 9080)],
    outputs: [selected, { kind: 'connect', destination: { kind: 'hostname', hostname: 'reviews.default', port: 9080 }, payload: '' }],
    phase: 'done',
  },
  {
    name: 'domain with a trailing dot keeps it (absolute name)',
    bytes: [...GREETING, ...connectDomain('reviews.default.svc.cluster.local.', 80)],
    outputs: [
      selected,
      { kind: 'connect', destination: { kind: 'hostname', hostname: 'reviews.default.svc.cluster.local.', port: 80 }, payload: '' },
    ],
    phase: 'done',
  },
  {
    name: 'an IP literal sent as a domain becomes an IP',
    bytes: [...GREETING, ...connectDomain('127.96.0.7', 80)],
    outputs: [selected, { kind: 'connect', destination: { kind: 'ip', ip: '127.96.0.7', port: 80 }, payload: '' }],
    phase: 'done',
  },
  {
    name: 'IPv6 CONNECT, RFC 5952 text',
    bytes: [...GREETING, ...connectIpv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01], 443)],
    outputs: [selected, { kind: 'connect', destination: { kind: 'ip', ip: '2001:db8::1', port: 443 }, payload: '' }],
    phase: 'done',
  },
  {
    name: 'IPv4-mapped IPv6 becomes IPv4',
    bytes: [...GREETING, ...connectIpv6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 96, 0, 2], 80)],
    outputs: [selected, { kind: 'connect', destination: { kind: 'ip', ip: '127.96.0.2', port: 80 }, payload: '' }],
    phase: 'done',
  },
  {
    name: 'several methods offered, NO AUTH among them',
    bytes: [0x05, 0x03, 0x02, 0x01, 0x00, ...connectIpv4(10, 0, 0, 1, 80)],
    outputs: [selected, { kind: 'connect', destination: { kind: 'ip', ip: '10.0.0.1', port: 80 }, payload: '' }],
    phase: 'done',
  },
  {
    name: 'pipelined payload after the request is handed back untouched',
    bytes: [...GREETING, ...connectDomain('httpbin', 8000), ...Buffer.from('GET / HTTP/1.1\r\n\r\n')],
    outputs: [
      selected,
      { kind: 'connect', destination: { kind: 'hostname', hostname: 'httpbin', port: 8000 }, payload: 'GET / HTTP/1.1\r\n\r\n' },
    ],
    phase: 'done',
  },
  {
    name: 'greeting only: waits for the request',
    bytes: GREETING,
    outputs: [selected],
    phase: 'request',
  },
  {
    name: 'bad version in the greeting (an HTTP request)',
    bytes: [...Buffer.from('GET / HTTP/1.1\r\n')],
    outputs: [{ kind: 'failed', error: { code: 'bad-version', phase: 'greeting', version: 0x47 } }],
    phase: 'failed',
  },
  {
    name: 'SOCKS4 is a bad version',
    bytes: [0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0x00],
    outputs: [{ kind: 'failed', error: { code: 'bad-version', phase: 'greeting', version: 4 } }],
    phase: 'failed',
  },
  {
    name: 'bad version in the request',
    bytes: [...GREETING, 0x04, 0x01, 0x00, 0x01],
    outputs: [selected, { kind: 'failed', error: { code: 'bad-version', phase: 'request', version: 4 } }],
    phase: 'failed',
  },
  {
    name: 'username/password only: no acceptable method',
    bytes: [0x05, 0x01, 0x02],
    outputs: [{ kind: 'failed', error: { code: 'no-acceptable-method', methods: [2] } }],
    phase: 'failed',
  },
  {
    name: 'empty method list: no acceptable method',
    bytes: [0x05, 0x00],
    outputs: [{ kind: 'failed', error: { code: 'no-acceptable-method', methods: [] } }],
    phase: 'failed',
  },
  {
    name: 'BIND is not supported',
    bytes: [...GREETING, 0x05, 0x02, 0x00, 0x01, 127, 0, 0, 1, 0, 80],
    outputs: [selected, { kind: 'failed', error: { code: 'command-not-supported', command: 2 } }],
    phase: 'failed',
  },
  {
    name: 'UDP ASSOCIATE is not supported',
    bytes: [...GREETING, 0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0],
    outputs: [selected, { kind: 'failed', error: { code: 'command-not-supported', command: 3 } }],
    phase: 'failed',
  },
  {
    name: 'unknown address type',
    bytes: [...GREETING, 0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4],
    outputs: [selected, { kind: 'failed', error: { code: 'address-type-not-supported', addressType: 2 } }],
    phase: 'failed',
  },
  {
    name: 'domain length 0',
    bytes: [...GREETING, 0x05, 0x01, 0x00, 0x03, 0x00, 0, 80],
    outputs: [selected, { kind: 'failed', error: { code: 'malformed-request', detail: 'empty domain name' } }],
    phase: 'failed',
  },
  {
    name: 'domain with a space is malformed',
    bytes: [...GREETING, ...connectDomain('a b', 80)],
    outputs: [selected, { kind: 'failed', error: { code: 'malformed-request', detail: 'invalid domain name "a b"' } }],
    phase: 'failed',
  },
  {
    name: 'port 0 is malformed',
    bytes: [...GREETING, ...connectIpv4(127, 0, 0, 1, 0)],
    outputs: [selected, { kind: 'failed', error: { code: 'malformed-request', detail: 'destination port 0' } }],
    phase: 'failed',
  },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    for (const [chunking, split] of Object.entries(CHUNKINGS)) {
      const { outputs, state } = run(split(row.bytes))
      t.same(summary(outputs), row.outputs, `outputs, fed ${chunking}`)
      t.equal(state.phase, row.phase, `final phase, fed ${chunking}`)
    }
  })
}

t.test('an incomplete request keeps its bytes and resumes exactly where it stopped', async (t) => {
  const bytes = [...GREETING, ...connectDomain('ratings', 9080)]
  for (let cut = 0; cut < bytes.length; cut++) {
    const first = feedSocks5(initialSocks5State(), Buffer.from(bytes.slice(0, cut)))
    t.notOk(
      first.outputs.some((o) => o.kind === 'connect'),
      `no connect before the last byte (cut ${cut})`,
    )
    const second = feedSocks5(first.state, Buffer.from(bytes.slice(cut)))
    const all = [...first.outputs, ...second.outputs]
    t.same(
      summary(all),
      [selected, { kind: 'connect', destination: { kind: 'hostname', hostname: 'ratings', port: 9080 }, payload: '' }],
      `cut at ${cut}`,
    )
  }
})

t.test('done and failed states ignore further input', async (t) => {
  const done = run(whole([...GREETING, ...connectIpv4(127, 0, 0, 1, 80)])).state
  t.same(feedSocks5(done, Buffer.from([0x05, 0x01, 0x00])), { state: done, outputs: [] })
  const failed = run(whole([0x47])).state
  t.same(feedSocks5(failed, Buffer.from(GREETING)), { state: failed, outputs: [] })
})

t.test('garbage fails on its first byte, without waiting for more', async (t) => {
  const step = feedSocks5(initialSocks5State(), Buffer.from([0x16]))
  t.equal(step.state.phase, 'failed')
})
