// What loading a proxy's modules pulls in (issue 14, RSS): the waypoint and sidecar commands and
// daemons, imported in a fresh built process, load no certificate library (@peculiar/x509 with
// reflect-metadata and tsyringe: ≈ 15 MB; a proxy that is its own CA signs with hand DER and does
// not load it either), no OpenTelemetry API (prom-client's index loads it), no YAML, no Kubernetes
// client, no UI; the waypoint's istiod clients (gRPC, protobufjs) load only when it runs from istiod.
// Fed by istiod, a proxy (waypoint, ztunnel, sidecar) runs its Delta ADS and CA clients on
// node:http2 and never loads grpc-js (≈ 12 MiB of RSS), which only istiod's server uses.
// Build first: `npx tsc -p tsconfig.build.json`.
import t, { type Test } from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { repoRoot, runNodeScript } from '../../helpers/run-cli.js'

const NEVER = [
  '/node_modules/@peculiar/',
  '/node_modules/reflect-metadata/',
  '/node_modules/tsyringe/',
  '/node_modules/@opentelemetry/',
  '/node_modules/yaml/',
  '/node_modules/@kubernetes/',
  '/dist/ui/',
  '/dist/kube/',
]

/** The files a fresh process loads when it imports `module` (a path under dist/). */
async function modulesLoadedBy(t: Test, module: string): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'module-loads-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const list = path.join(dir, 'loaded.txt')
  const hooks = `import { appendFileSync } from 'node:fs'
export async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, context) }`
  const main = path.join(dir, 'main.mjs')
  // The load hook sees ESM imports (and the entry of a CommonJS package an ESM module imports); the
  // require cache adds what CommonJS code requires (prom-client's parts, through createRequire).
  const script = `import { register, createRequire } from 'node:module'
import { appendFileSync } from 'node:fs'
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}))
await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, module)).href)})
appendFileSync(${JSON.stringify(list)}, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n')
`
  await writeFile(main, script)
  const run = await runNodeScript(main, [], 30_000)
  t.equal(run.code, 0, `${module} imports (stderr: ${run.stderr.slice(0, 300)})`)
  return (await readFile(list, 'utf8')).split('\n').filter((l) => l !== '')
}

const cases: { module: string; alsoNever: string[] }[] = [
  { module: 'dist/cli/commands/waypoint.js', alsoNever: ['/node_modules/@grpc/', '/node_modules/protobufjs/'] },
  { module: 'dist/waypoint/daemon.js', alsoNever: ['/node_modules/@grpc/', '/node_modules/protobufjs/'] },
  { module: 'dist/cli/commands/sidecar.js', alsoNever: [] },
  // The sidecar is always fed by istiod: its xDS and CA clients are loaded with it, on node:http2.
  { module: 'dist/sidecar/daemon.js', alsoNever: ['/node_modules/@grpc/'] },
]

for (const { module, alsoNever } of cases) {
  t.test(`${module} loads no library its proxy does not use`, async (t) => {
    const loaded = await modulesLoadedBy(t, module)
    t.ok(
      loaded.some((u) => u.endsWith(module)),
      'the hook saw the module itself',
    )
    for (const part of [...NEVER, ...alsoNever]) {
      t.same(
        loaded.filter((u) => u.includes(part)),
        [],
        `nothing under ${part}`,
      )
    }
  })
}

// What a proxy fed by istiod adds on top of its command: the modules its istiod mode imports (the
// ztunnel daemon's xdsFeed and the waypoint's `--xds` path load these dynamically).
const fedByIstiod: { proxy: string; modules: string[] }[] = [
  { proxy: 'ztunnel', modules: ['dist/ztunnel/daemon.js', 'dist/ztunnel/xds-source.js', 'dist/xds/ca-client.js', 'dist/xds/node-id.js'] },
  { proxy: 'waypoint', modules: ['dist/waypoint/daemon.js', 'dist/waypoint/xds-waypoint.js'] },
]

for (const { proxy, modules } of fedByIstiod) {
  t.test(`a ${proxy} fed by istiod does not load grpc-js`, async (t) => {
    for (const module of modules) {
      const loaded = await modulesLoadedBy(t, module)
      t.ok(
        loaded.some((u) => u.endsWith(module)),
        `the hook saw ${module}`,
      )
      t.same(
        loaded.filter((u) => u.includes('/node_modules/@grpc/')),
        [],
        `${module}: nothing under /node_modules/@grpc/`,
      )
    }
  })
}

// A proxy that is its own CA (local config: ztunnel's localFeed, the waypoint's local mode) signs its
// certificates and reads CSRs with hand DER on node:crypto; @peculiar/x509 is imported only to create
// a root (`ca init`, a CA directory used for the first time), never by what a running proxy imports.
t.test('a proxy that is its own CA loads no certificate library', async (t) => {
  for (const module of ['dist/identity/ca.js', 'dist/identity/signer.js', 'dist/mesh/config-source.js']) {
    const loaded = await modulesLoadedBy(t, module)
    t.ok(
      loaded.some((u) => u.endsWith(module)),
      `the hook saw ${module}`,
    )
    for (const part of ['/node_modules/@peculiar/', '/node_modules/reflect-metadata/', '/node_modules/tsyringe/']) {
      t.same(
        loaded.filter((u) => u.includes(part)),
        [],
        `${module}: nothing under ${part}`,
      )
    }
  }
})
