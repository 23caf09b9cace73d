// Table tests for the protocol decision (src/l7/protocol-sniff.ts): what a declared port
// leaves to sniff, and what the first bytes say — any protocol on undeclared ports (Istio's
// sniffing), only the HTTP version on http ports (Envoy's codec AUTO: h2 with prior knowledge).
import t from 'tap'
import { H2_PREFACE, declaredProtocol, sniffProtocol, undecidedProtocol, type Sniffing } from '../../../src/l7/protocol-sniff.js'

t.test('declared protocols', async (t) => {
  t.equal(declaredProtocol('HTTP'), 'http-version')
  t.equal(declaredProtocol('HTTP2'), 'h2')
  t.equal(declaredProtocol('GRPC'), 'h2')
  t.equal(declaredProtocol('TCP'), 'tcp')
  t.equal(declaredProtocol('UNKNOWN'), 'any')
  t.equal(undecidedProtocol('any'), 'tcp', 'undeclared: still a prefix of HTTP at the timeout → TCP')
  t.equal(undecidedProtocol('http-version'), 'http1', 'http port: an unfinished preface-like start → HTTP/1.1 (its parser judges)')
})

const rows: { name: string; head: string | Buffer; what: Sniffing; want: ReturnType<typeof sniffProtocol> }[] = [
  { name: 'nothing yet', head: '', what: 'any', want: 'undecided' },
  { name: 'nothing yet (http port)', head: '', what: 'http-version', want: 'undecided' },
  { name: 'GET request line', head: 'GET / HTTP/1.1\r\n', what: 'any', want: 'http1' },
  { name: 'a method token split', head: 'PO', what: 'any', want: 'undecided' },
  { name: 'POST', head: 'POST /x', what: 'any', want: 'http1' },
  { name: 'WebDAV PROPFIND', head: 'PROPFIND /', what: 'any', want: 'http1' },
  { name: 'method without its space yet', head: 'GET', what: 'any', want: 'undecided' },
  { name: 'lowercase is not HTTP', head: 'get / HTTP/1.1', what: 'any', want: 'tcp' },
  { name: 'binary', head: Buffer.from([0x16, 0x03, 0x01]), what: 'any', want: 'tcp' },
  { name: 'h2 preface, whole', head: H2_PREFACE, what: 'any', want: 'h2' },
  {
    name: 'h2 preface, then a SETTINGS frame',
    head: Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]),
    what: 'any',
    want: 'h2',
  },
  { name: 'h2 preface, partial', head: H2_PREFACE.subarray(0, 10), what: 'any', want: 'undecided' },
  { name: '"PRI" alone could still be the preface', head: 'PRI', what: 'any', want: 'undecided' },
  { name: 'http port: h2 preface', head: H2_PREFACE, what: 'http-version', want: 'h2' },
  { name: 'http port: partial preface', head: H2_PREFACE.subarray(0, 5), what: 'http-version', want: 'undecided' },
  { name: 'http port: request line', head: 'GET / HTTP/1.1\r\n', what: 'http-version', want: 'http1' },
  { name: 'http port: garbage goes to the HTTP/1.1 parser', head: 'hello', what: 'http-version', want: 'http1' },
  { name: 'http port: "PRX" leaves the preface', head: 'PRX', what: 'http-version', want: 'http1' },
]

for (const r of rows) {
  t.test(r.name, async (t) => {
    t.equal(sniffProtocol(Buffer.isBuffer(r.head) ? r.head : Buffer.from(r.head, 'latin1'), r.what), r.want)
  })
}
