import t from 'tap'
import { formatAuthority, parseAuthority } from '../../../src/net/authority.js'

const good: Array<[string, string, number]> = [
  ['10.0.0.1:80', '10.0.0.1', 80],
  ['127.244.1.2:8080', '127.244.1.2', 8080],
  ['1.2.3.4:0', '1.2.3.4', 0],
  ['1.2.3.4:65535', '1.2.3.4', 65535],
  ['[::1]:15008', '::1', 15008],
  ['[2001:DB8::0:1]:443', '2001:db8::1', 443],
  ['[::ffff:10.1.2.3]:80', '10.1.2.3', 80],
  ['[fd00::a:b]:9080', 'fd00::a:b', 9080],
]

const bad: Array<[string | undefined, RegExp]> = [
  [undefined, /missing/],
  ['', /missing/],
  ['10.0.0.1', /expected ip:port/],
  ['10.0.0.1:', /bad port/],
  ['10.0.0.1:http', /bad port/],
  ['10.0.0.1:+80', /bad port/],
  ['10.0.0.1:65536', /out of range/],
  ['10.0.0.1:123456', /bad port/],
  ['10.0.0.1:80:80', /not an IP/],
  ['01.2.3.4:80', /not an IP/],
  ['1.2.3:80', /not an IP/],
  ['256.1.1.1:80', /not an IP/],
  ['example.com:80', /not an IP/],
  [':80', /not an IP/],
  ['::1:80', /in brackets/],
  ['[::1]', /\[ipv6\]:port/],
  ['[::1:80', /\[ipv6\]:port/],
  ['[::1]80', /\[ipv6\]:port/],
  ['[10.0.0.1]:80', /not an IPv6/],
  ['[fe80::1%eth0]:80', /not an IPv6/],
  [' 10.0.0.1:80', /not an IP/],
]

t.test('valid authorities', async (t) => {
  for (const [text, ip, port] of good) {
    t.same(parseAuthority(text), { ok: true, authority: { ip, port } }, text)
  }
})

t.test('malformed authorities', async (t) => {
  for (const [text, reason] of bad) {
    const r = parseAuthority(text)
    t.equal(r.ok, false, String(text))
    if (!r.ok) t.match(r.reason, reason, String(text))
  }
})

t.test('format round-trips', async (t) => {
  t.equal(formatAuthority({ ip: '10.0.0.1', port: 80 }), '10.0.0.1:80')
  t.equal(formatAuthority({ ip: '2001:db8::1', port: 443 }), '[2001:db8::1]:443')
  for (const [text, ip, port] of good) {
    const again = parseAuthority(formatAuthority({ ip, port }))
    t.same(again, { ok: true, authority: { ip, port } }, text)
  }
})
