import t from 'tap'
import { forwardableHeaders, stripHopByHop, stripPseudo } from '../../../src/l7/http-headers.js'

t.test('forwardableHeaders is stripHopByHop(stripPseudo(…)) in one copy', (t) => {
  const cases: Record<string, Record<string, string | string[] | undefined>> = {
    'h2 request': { ':method': 'GET', ':path': '/x', ':authority': 'a', accept: '*/*', te: 'trailers' },
    'http/1.1 with Connection-listed headers': {
      host: 'a',
      connection: 'keep-alive, X-Drop',
      'x-drop': '1',
      'keep-alive': 'timeout=5',
      'x-keep': ['1', '2'],
    },
    'undefined values are dropped': { a: undefined, b: 'x', 'transfer-encoding': 'chunked', upgrade: 'h2c' },
    empty: {},
  }
  for (const [name, headers] of Object.entries(cases)) {
    const out = forwardableHeaders(headers)
    t.strictSame(out, stripHopByHop(stripPseudo(headers)), name)
    t.strictSame(Object.keys(out), Object.keys(stripHopByHop(stripPseudo(headers))), `${name}: same order`)
    t.not(out, headers, `${name}: a copy`)
  }
  t.end()
})

t.test('forwardableHeaders leaves out the names a hop consumes (drop), with or without a Connection header', (t) => {
  const drop = new Set(['x-envoy-peer-metadata', 'x-envoy-peer-metadata-id'])
  const cases: Array<[string, Record<string, string | string[] | undefined>, Record<string, string | string[]>]> = [
    [
      'both dropped',
      { accept: '*/*', 'x-envoy-peer-metadata': 'm', 'x-envoy-peer-metadata-id': 'id', 'x-a': '1' },
      { accept: '*/*', 'x-a': '1' },
    ],
    ['with Connection', { connection: 'x-a', 'x-a': '1', 'x-envoy-peer-metadata': 'm', 'x-b': '2' }, { 'x-b': '2' }],
    ['none present', { 'x-b': '2' }, { 'x-b': '2' }],
    ['with a Connection list', { connection: 'close, X-A', 'x-a': '1', 'x-envoy-peer-metadata-id': 'i', 'x-b': '2' }, { 'x-b': '2' }],
  ]
  for (const [name, headers, want] of cases) {
    const out = forwardableHeaders(headers, drop)
    t.strictSame(out, want, name)
    t.strictSame(Object.keys(out), Object.keys(want), `${name}: same order`)
  }
  t.strictSame([...drop], ['x-envoy-peer-metadata', 'x-envoy-peer-metadata-id'], 'the drop set is not changed')
  t.end()
})

t.test('stripHopByHop drops the headers Connection names, whatever their case and spacing', (t) => {
  t.strictSame(stripHopByHop({ connection: ' Close ,X-A', 'x-a': '1', 'x-b': '2' }), { 'x-b': '2' })
  t.strictSame(stripHopByHop({ 'x-b': '2', host: 'h' }), { 'x-b': '2' })
  t.end()
})

t.test('forwardableHeaders: a Connection of one token drops what it names, as a list does', (t) => {
  const rows: { name: string; headers: Record<string, string | string[] | undefined>; want: Record<string, string | string[]> }[] = [
    { name: 'keep-alive', headers: { connection: 'keep-alive', 'keep-alive': '5', a: '1' }, want: { a: '1' } },
    { name: 'one name, case and spaces', headers: { connection: ' X-Drop ', 'x-drop': '1', b: '2' }, want: { b: '2' } },
    { name: 'a list', headers: { connection: 'close, x-drop', 'x-drop': '1', b: '2' }, want: { b: '2' } },
    { name: 'empty names nothing', headers: { connection: '', '': 'x', b: '2' }, want: { '': 'x', b: '2' } },
    { name: 'spaces name nothing', headers: { connection: '  ', '': 'x', b: '2' }, want: { '': 'x', b: '2' } },
    { name: 'a list as an array', headers: { connection: ['close', 'x-drop'], 'x-drop': '1', b: '2' }, want: { b: '2' } },
  ]
  for (const r of rows) t.strictSame(forwardableHeaders(r.headers), r.want, r.name)
  t.end()
})
