// istiod's serving certificate as Istio's ztunnel checks it: DNS SANs `istiod.istio-system.svc` (and
// the other names Istio's istiod carries), the IP it binds, and the SPIFFE URI our own clients check.
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ISTIOD_DNS_NAMES, openIstiodState } from '../../../src/istiod/state-dir.js'

t.test('the serving certificate names istiod by DNS, by its bind address and by SPIFFE ID', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-serving-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const state = await openIstiodState({
    stateDir: dir,
    trustDomain: 'cluster.local',
    nodes: ['node-1'],
    servingIps: ['127.0.0.1', '0.0.0.0'],
  })
  const leaf = new X509Certificate(state.serving.certChainPem)
  const sans = (leaf.subjectAltName ?? '').split(', ')
  t.same(ISTIOD_DNS_NAMES, ['istiod.istio-system.svc', 'istiod-remote.istio-system.svc', 'istio-pilot.istio-system.svc'])
  for (const name of ISTIOD_DNS_NAMES) t.ok(sans.includes(`DNS:${name}`), name)
  t.ok(sans.includes('IP Address:127.0.0.1'), 'the bind address')
  t.notOk(
    sans.some((s) => s.includes('0.0.0.0')),
    'an unspecified bind address is not a SAN',
  )
  t.ok(sans.includes('URI:spiffe://cluster.local/ns/istio-system/sa/istiod'), 'the SPIFFE URI stays')
  t.equal(leaf.checkHost('istiod.istio-system.svc'), 'istiod.istio-system.svc', "Node's own hostname check accepts it")
})
