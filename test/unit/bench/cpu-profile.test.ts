// The CPU profile summary: self time per category and per function from V8 .cpuprofile data, the
// start-up skipped on request.
import t from 'tap'
import { categoryOf, formatProfileSummary, summarizeProfiles } from '../../../src/bench/cpu-profile.js'
import type { CpuProfile } from '../../../src/bench/cpu-profile.js'

t.test('categoryOf: the first matching rule names the frame', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['(idle)', '', 'idle'],
    ['(garbage collector)', '', 'GC'],
    ['(program)', '', 'native/program (syscalls, libuv, OpenSSL, nghttp2 C++)'],
    ['writeBuffer', '', 'native calls from JS (socket write/read, TLS and HTTP/2 bindings)'],
    ['write', 'file:///w/node_modules/pino/lib/proto.js', 'pino (logging)'],
    ['inc', 'file:///w/node_modules/prom-client/lib/counter.js', 'prom-client (metrics)'],
    ['x', 'file:///w/node_modules/yaml/dist/index.js', 'other node_modules'],
    ['onStreamRead', 'node:internal/stream_base_commons', 'node:net / streams'],
    ['(anonymous)', 'node:internal/http2/core', 'node:http2'],
    ['parserOnHeadersComplete', 'node:_http_common', 'node:http (HTTP/1.1)'],
    ['onhandshakedone', 'node:_tls_wrap', 'node:tls / crypto'],
    ['wrapSafe', 'node:internal/modules/cjs/loader', 'module loading (start-up)'],
    ['pipe', 'file:///w/dist/net/pipe.js', 'our code (dist/)'],
    ['emit', 'node:events', 'node:timers / events / other internals'],
    ['Array', '', 'V8 builtins / unattributed'],
  ]
  for (const [fn, url, want] of cases) t.equal(categoryOf(fn, url), want, `${fn} ${url}`)
})

// Three nodes: root → (program), root → our function; samples with their deltas (µs).
const profile: CpuProfile = {
  startTime: 0,
  endTime: 10_000,
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3, 4] },
    { id: 2, callFrame: { functionName: '(program)', url: '', lineNumber: -1 } },
    { id: 3, callFrame: { functionName: 'pipe', url: 'file:///w/dist/net/pipe.js', lineNumber: 9 } },
    { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
  ],
  // The delta at i + 1 is charged to sample i.
  samples: [2, 3, 3, 4, 2],
  timeDeltas: [0, 1000, 2000, 3000, 4000, 0],
}

t.test('summarizeProfiles: self time by category and function, idle left out of busy', async (t) => {
  const s = summarizeProfiles([profile])
  t.equal(s.wallMs, 10)
  t.equal(s.busyMs, 6)
  t.same(
    s.categories.map((c) => [c.name, c.ms]),
    [
      ['our code (dist/)', 5],
      ['native/program (syscalls, libuv, OpenSSL, nghttp2 C++)', 1],
    ],
  )
  t.equal(s.functions[0]!.name, 'pipe dist/net/pipe.js:10')
  t.equal(s.functions[0]!.shareOfBusy, 5 / 6)
  t.match(formatProfileSummary(s), /83\.3 %\s+5 ms\s+our code/)
})

t.test('summarizeProfiles: --skip drops the samples of the first milliseconds (start-up)', async (t) => {
  const s = summarizeProfiles([profile], 25, 2)
  t.equal(s.wallMs, 8)
  t.same(
    s.categories.map((c) => [c.name, c.ms]),
    [
      ['our code (dist/)', 3],
      ['native/program (syscalls, libuv, OpenSSL, nghttp2 C++)', 0],
    ],
  )
})
