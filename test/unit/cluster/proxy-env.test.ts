// Which environment a data-plane proxy starts with: Node's extra CA bundle only for an https
// Zipkin collector (the one connection a proxy makes with Node's default trust).
import t from 'tap'
import { proxyEnv, proxyNeedsExtraCaCerts } from '../../../src/proxy-env.js'

const BUNDLE = '/etc/ssl/certs/ca-certificates.crt'

t.test('NODE_EXTRA_CA_CERTS is kept only for an https collector', async (t) => {
  const cases: { name: string; zipkin: string | undefined; keeps: boolean }[] = [
    { name: 'no collector', zipkin: undefined, keeps: false },
    { name: 'empty collector', zipkin: '', keeps: false },
    { name: 'http collector', zipkin: 'http://127.0.0.1:9411/api/v2/spans', keeps: false },
    { name: 'https collector', zipkin: 'https://zipkin.example/api/v2/spans', keeps: true },
    { name: 'HTTPS, padded', zipkin: '  HTTPS://zipkin.example/api/v2/spans', keeps: true },
  ]
  for (const c of cases) {
    const env = { PATH: '/usr/bin', NODE_EXTRA_CA_CERTS: BUNDLE, AMBIENT_ZIPKIN_URL: c.zipkin }
    t.equal(proxyNeedsExtraCaCerts(env), c.keeps, `${c.name}: needs`)
    const out = proxyEnv(env)
    t.equal(out.NODE_EXTRA_CA_CERTS, c.keeps ? BUNDLE : undefined, `${c.name}: the variable`)
    t.equal('NODE_EXTRA_CA_CERTS' in out, c.keeps, `${c.name}: the key itself`)
    t.equal(out.PATH, '/usr/bin', `${c.name}: the rest is kept`)
    t.equal(env.NODE_EXTRA_CA_CERTS, BUNDLE, `${c.name}: the input is not changed`)
  }
})
