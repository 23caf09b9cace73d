// The repeated-line limiter: per key, N lines per interval, then one "suppressed K similar" line
// before the key's next line after the interval (or at flush). Tables on an injected clock.
import t from 'tap'
import { LogLimiter, limitedWarn } from '../../../src/observability/log-limiter.js'

type Step = readonly [atMs: number, key: string]

const rows: Array<{ name: string; perInterval: number; intervalMs: number; steps: Step[]; want: Array<[boolean, number]> }> = [
  {
    name: 'under the limit: every line',
    perInterval: 3,
    intervalMs: 100,
    steps: [
      [0, 'a'],
      [10, 'a'],
      [20, 'a'],
    ],
    want: [
      [true, 0],
      [true, 0],
      [true, 0],
    ],
  },
  {
    name: 'over the limit: suppressed, reported with the next line after the interval',
    perInterval: 2,
    intervalMs: 100,
    steps: [
      [0, 'a'],
      [1, 'a'],
      [2, 'a'],
      [3, 'a'],
      [99, 'a'],
      [100, 'a'],
      [101, 'a'],
    ],
    want: [
      [true, 0],
      [true, 0],
      [false, 0],
      [false, 0],
      [false, 0],
      [true, 3],
      [true, 0],
    ],
  },
  {
    name: 'keys are independent',
    perInterval: 1,
    intervalMs: 100,
    steps: [
      [0, 'a'],
      [0, 'b'],
      [1, 'a'],
      [1, 'b'],
      [2, 'c'],
    ],
    want: [
      [true, 0],
      [true, 0],
      [false, 0],
      [false, 0],
      [true, 0],
    ],
  },
  {
    name: 'a quiet interval reports nothing',
    perInterval: 1,
    intervalMs: 10,
    steps: [
      [0, 'a'],
      [50, 'a'],
      [100, 'a'],
    ],
    want: [
      [true, 0],
      [true, 0],
      [true, 0],
    ],
  },
  {
    name: 'the window starts at the first line, not at a fixed tick',
    perInterval: 1,
    intervalMs: 100,
    steps: [
      [50, 'a'],
      [120, 'a'],
      [149, 'a'],
      [150, 'a'],
    ],
    want: [
      [true, 0],
      [false, 0],
      [false, 0],
      [true, 2],
    ],
  },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    let now = 0
    const limiter = new LogLimiter({ perInterval: row.perInterval, intervalMs: row.intervalMs, now: () => now })
    const got = row.steps.map(([at, key]) => {
      now = at
      const d = limiter.decide(key)
      return [d.write, d.suppressed]
    })
    t.same(got, row.want)
  })
}

t.test('limitedWarn: one "suppressed K similar" line, then the line; flush reports what is pending', async (t) => {
  let now = 0
  const lines: Array<[Record<string, unknown>, string]> = []
  const w = limitedWarn(
    {
      warn: (f, m) => {
        lines.push([f, m])
      },
    },
    { perInterval: 2, intervalMs: 1000, now: () => now },
  )
  for (let i = 0; i < 10; i++) w.warn('bad-version', { event: 'bad-version', i }, 'not a SOCKS5 client')
  t.same(
    lines.map(([f]) => f.i),
    [0, 1],
    'two of ten written',
  )
  now = 1000
  w.warn('bad-version', { event: 'bad-version', i: 10 }, 'not a SOCKS5 client')
  t.same(lines.slice(2), [
    [{ event: 'log_suppressed', key: 'bad-version', suppressed: 8, intervalMs: 1000 }, 'suppressed 8 similar lines (bad-version)'],
    [{ event: 'bad-version', i: 10 }, 'not a SOCKS5 client'],
  ])
  w.warn('bad-version', { i: 11 }, 'x')
  w.warn('bad-version', { i: 12 }, 'x')
  w.flush()
  t.same(
    lines.slice(4).map(([f]) => f),
    [{ i: 11 }, { event: 'log_suppressed', key: 'bad-version', suppressed: 1, intervalMs: 1000 }],
    'flush reports the pending count',
  )
  w.flush()
  t.equal(lines.length, 6, 'nothing left to report')
})

t.test('keys are bounded: the oldest key is dropped, its pending count reported', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const w = limitedWarn(
    {
      warn: (f) => {
        lines.push(f)
      },
    },
    { perInterval: 1, intervalMs: 1000, maxKeys: 2, now: () => 0 },
  )
  w.warn('a', { k: 'a' }, 'x')
  w.warn('a', { k: 'a' }, 'x')
  w.warn('b', { k: 'b' }, 'x')
  w.warn('c', { k: 'c' }, 'x')
  t.same(lines, [{ k: 'a' }, { k: 'b' }, { k: 'c' }, { event: 'log_suppressed', key: 'a', suppressed: 1, intervalMs: 1000 }])
})
