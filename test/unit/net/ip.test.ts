// isCanonicalIp: what MeshState checks on every address it stores. IPv4 text is checked in one pass
// over its characters; it must agree with the parser's definition (text that parses and prints back
// unchanged) on every input.
import t from 'tap'
import { canonicalIp, isCanonicalIp } from '../../../src/net/ip.js'

t.test('canonical IP text, table', async (t) => {
  const cases: [string, boolean][] = [
    ['10.244.1.7', true],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['1.20.100.200', true],
    ['256.1.1.1', false],
    ['1.1.1.300', false],
    ['1000.1.1.1', false],
    ['01.2.3.4', false],
    ['1.2.3.00', false],
    ['1.2.3', false],
    ['1.2.3.4.5', false],
    ['1..2.3', false],
    ['.1.2.3', false],
    ['1.2.3.4.', false],
    ['1.2.3.a', false],
    ['1.2.3.-4', false],
    [' 1.2.3.4', false],
    ['', false],
    ['example.com', false],
    ['::1', true],
    ['2001:db8::1', true],
    ['2001:DB8::1', false],
    ['2001:0db8::1', false],
    ['::ffff:1.2.3.4', false],
    ['fe80::1%eth0', false],
  ]
  for (const [text, want] of cases) t.equal(isCanonicalIp(text), want, JSON.stringify(text))
  t.equal(isCanonicalIp(7 as unknown as string), false, 'not a string')
})

t.test('IPv4-like text: the one-pass check agrees with parse-and-print', async (t) => {
  const parts = ['0', '1', '9', '00', '01', '10', '99', '100', '199', '249', '250', '255', '256', '299', '300', '999', '1000', '', 'a']
  let checked = 0
  const disagree: string[] = []
  for (const a of parts)
    for (const b of ['0', '255', '01', '256', ''])
      for (const c of parts) {
        for (const text of [`${a}.${b}.7.${c}`, `${a}.${c}`, `${a}.${b}.${c}.1.2`]) {
          checked++
          if (isCanonicalIp(text) !== (canonicalIp(text) === text)) disagree.push(text)
        }
      }
  t.same(disagree, [], `${checked} inputs agree`)
})
