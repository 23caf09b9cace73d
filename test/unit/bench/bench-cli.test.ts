// The benches' shared command line: numeric ranges, Node flag lists, unknown options — each a coded
// config error (CLI_USAGE), never a crash with a stack.
import t from 'tap'
import { benchNumber, nodeFlags, parseBenchArgs } from '../../../src/bench/bench-cli.js'

t.test('benchNumber: the fallback when absent, else a number in range (integers unless told)', async (t) => {
  const ok: Array<[string | undefined, number, number, number, boolean, number]> = [
    [undefined, 3, 1, 50, true, 3],
    ['7', 3, 1, 50, true, 7],
    ['0.5', 1, 0.1, 600, false, 0.5],
    ['50', 3, 1, 50, true, 50],
  ]
  for (const [raw, fallback, min, max, integer, want] of ok)
    t.equal(benchNumber('n', raw, fallback, min, max, integer), want, `${raw} → ${want}`)
  const bad: Array<[string, number, number, boolean]> = [
    ['0', 1, 50, true],
    ['51', 1, 50, true],
    ['2.5', 1, 50, true],
    ['x', 1, 50, false],
    ['', 1, 50, true],
  ]
  for (const [raw, min, max, integer] of bad) {
    t.throws(
      () => benchNumber('rounds', raw, 3, min, max, integer),
      { code: 'CLI_USAGE', side: 'config', message: /--rounds must be/ },
      `"${raw}" refused`,
    )
  }
})

t.test('nodeFlags: space-separated, each a --flag', async (t) => {
  t.same(nodeFlags('f', '--cpu-prof  --cpu-prof-dir=/tmp/p '), ['--cpu-prof', '--cpu-prof-dir=/tmp/p'])
  t.same(nodeFlags('f', ''), [])
  t.throws(() => nodeFlags('proxy-node-flags', '--ok cpu-prof'), {
    code: 'CLI_USAGE',
    side: 'config',
    message: /"cpu-prof" is not a Node flag/,
  })
})

t.test('parseBenchArgs: own options plus --quick and --out; an unknown option names the usage', async (t) => {
  const v = parseBenchArgs(
    ['--rate', '200', '--quick'],
    { rate: { type: 'string', default: '1000' }, rounds: { type: 'string' } },
    'usage: x-bench [--rate R]',
  )
  t.equal(v.rate, '200')
  t.equal(v.rounds, undefined)
  t.equal(v.quick, true)
  t.equal(v.out, 'bench-results')
  t.throws(() => parseBenchArgs(['--nope'], {}, 'usage: x-bench'), {
    code: 'CLI_USAGE',
    side: 'config',
    message: /'--nope'[\s\S]*usage: x-bench/,
  })
})
