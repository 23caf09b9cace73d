// What our istiod sends, read with Istio's message definitions (restated in
// test/helpers/istio-schema.ts): no field Istio does not define, every wire type Istio's. Run over
// the translation of the demo (bookinfo, waypoint, policies, STRICT) and of the seed documents.
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { encodeAddress, encodeAuthorization } from '../../../src/xds/convert.js'
import { unknownFields } from '../../helpers/istio-schema.js'
import { run } from '../istiod/translate/helpers.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const yamlIn = (dir: string): string[] =>
  readdirSync(`${ROOT}${dir}`)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(`${ROOT}${dir}/${f}`, 'utf8'))

for (const [name, docs] of [
  ['deploy/demo', yamlIn('deploy/demo')],
  [
    'test/fixtures/bookinfo + seed policies',
    [
      ...yamlIn('test/fixtures/bookinfo'),
      ...yamlIn('test/fixtures/seed').filter((y) => /kind: (PeerAuthentication|AuthorizationPolicy)/.test(y)),
    ],
  ],
] as const) {
  t.test(`${name}: every Address and Authorization istiod sends has only fields Istio defines`, async (t) => {
    const out = run([...docs])
    t.ok(out.mesh.workloads.length > 0 && out.mesh.services.length > 0 && out.mesh.policies.length > 0, 'something to check')
    t.ok(
      out.mesh.workloads.some((w) => w.podLocalAddress !== undefined),
      'the pod-local extension is among them',
    )
    t.ok(
      out.mesh.services.some((s) => s.waypoint?.kind === 'address') || name !== 'deploy/demo',
      'a waypoint referenced by address is among them',
    )
    const problems = [
      ...out.mesh.workloads.flatMap((w) =>
        unknownFields('istio.workload.Address', encodeAddress({ kind: 'workload', value: w }), `workload ${w.uid}`),
      ),
      ...out.mesh.services.flatMap((s) =>
        unknownFields('istio.workload.Address', encodeAddress({ kind: 'service', value: s }), `service ${s.namespace}/${s.hostname}`),
      ),
      ...out.mesh.policies.flatMap((p) =>
        unknownFields('istio.security.Authorization', encodeAuthorization(p), `policy ${p.namespace}/${p.name}`),
      ),
    ]
    t.same(problems, [])
  })
}

t.test('the walker does find a field Istio lacks (the old pod-local field 1000) and a wrong wire type', async (t) => {
  const protobuf = (await import('protobufjs/minimal.js')).default
  const w = protobuf.Writer.create()
  w.uint32((1 << 3) | 2)
    .fork()
    .uint32((20 << 3) | 2)
    .string('u')
    .uint32((1000 << 3) | 2)
    .bytes(Uint8Array.of(127, 0, 0, 1))
    .uint32((5 << 3) | 2)
    .string('x')
    .ldelim()
  t.same(unknownFields('istio.workload.Address', w.finish()), [
    "istio.workload.Address.workload.1000: not in Istio's istio.workload.Workload",
    "istio.workload.Address.workload.tunnel_protocol: wire type 2, Istio's int32 is 0",
  ])
})
