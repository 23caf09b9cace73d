// The protobuf code in dist is the committed src/xds/gen/messages.js without comments and indentation
// (scripts/compact-js.mjs, run by `npm run build`): a third of the source text every process fed by
// istiod keeps, and the same messages on the wire. Build first: `npm run build`.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { compactGeneratedJs } from '../../../scripts/compact-js.mjs'
import { ambient, envoy, istio } from '../../../src/xds/gen/messages.js'
import { repoRoot } from '../../helpers/run-cli.js'

t.test('compaction drops comments and indentation, never what a string holds', async (t) => {
  const cases: { name: string; source: string; compact: string }[] = [
    { name: 'JSDoc and indentation', source: '/**\n * A.\n */\nconst a = {\n    b: 1,\n};\n', compact: 'const a = {\nb: 1,\n};\n' },
    { name: 'a line comment', source: 'f(); // why\n', compact: 'f();\n' },
    { name: 'comment-like strings', source: "const s = '/* x */ // y';\n", compact: "const s = '/* x */ // y';\n" },
    { name: 'a regular expression with slashes', source: 'const r = /\\/\\//g;\n', compact: 'const r = /\\/\\//g;\n' },
  ]
  for (const c of cases) t.equal(compactGeneratedJs(c.source), c.compact, c.name)
  // Leading spaces inside a string that spans lines would change it: refused, not compacted.
  t.throws(() => compactGeneratedJs('const s = `a\n    b`;\n'), /template literal/, 'a template literal')
  t.throws(() => compactGeneratedJs("const s = 'a\\\n    b';\n"), /line continuation/, 'a line continuation')
})

/** A decoded message's fields as plain data (the two modules' message classes differ). */
const plain = (m: unknown): unknown => JSON.parse(JSON.stringify(m))

t.test("dist's messages.js is the compacted source and encodes and decodes the same", async (t) => {
  const src = await readFile(path.join(repoRoot, 'src/xds/gen/messages.js'), 'utf8')
  const distFile = path.join(repoRoot, 'dist/xds/gen/messages.js')
  const dist = await readFile(distFile, 'utf8')
  t.equal(dist, compactGeneratedJs(src), 'npm run build wrote the compacted copy')
  t.ok(dist.length < src.length / 2, `${dist.length} B against ${src.length} B`)
  const built = (await import(pathToFileURL(distFile).href)) as { ambient: typeof ambient; envoy: typeof envoy; istio: typeof istio }
  const messages: { name: string; encode: (m: typeof built) => Uint8Array; decode: (m: typeof built, b: Uint8Array) => unknown }[] = [
    {
      name: 'istio.workload.Address (a workload)',
      encode: (m) =>
        m.istio.workload.Address.encode({
          workload: { uid: 'Kubernetes//Pod/ns/p', name: 'p', namespace: 'ns', addresses: [new Uint8Array([10, 0, 0, 1])], node: 'n' },
        }).finish(),
      decode: (m, b) => plain(m.istio.workload.Address.decode(b)),
    },
    {
      name: 'envoy DeltaDiscoveryRequest',
      encode: (m) =>
        m.envoy.service.discovery.v3.DeltaDiscoveryRequest.encode({
          typeUrl: 'type.googleapis.com/istio.workload.Address',
          resourceNamesSubscribe: ['*'],
          initialResourceVersions: { a: '1' },
          responseNonce: 'n1',
        }).finish(),
      decode: (m, b) => plain(m.envoy.service.discovery.v3.DeltaDiscoveryRequest.decode(b)),
    },
    {
      name: 'ambient.waypoint.v1.WaypointConfig',
      encode: (m) => m.ambient.waypoint.v1.WaypointConfig.encode({ name: 'w', namespace: 'ns', json: '{"a":1}' }).finish(),
      decode: (m, b) => plain(m.ambient.waypoint.v1.WaypointConfig.decode(b)),
    },
  ]
  const original = { ambient, envoy, istio }
  for (const m of messages) {
    const bytes = m.encode(original)
    t.same(Buffer.from(m.encode(built)), Buffer.from(bytes), `${m.name}: the same bytes`)
    t.same(m.decode(built, bytes), m.decode(original, bytes), `${m.name}: the same message back`)
  }
})
