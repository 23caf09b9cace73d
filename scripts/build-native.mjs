// Builds the in-pod capture addon (native/capture, N-API, C) with the node-gyp that ships with npm.
// `npm run build` runs this with --optional: a machine without a C toolchain still builds and runs
// everything except `--capture inpod`, which then says the addon is missing (CAPTURE_INPOD_ADDON).
// Headers: --nodedir=/usr when /usr/include/node has them (Debian's nodejs; no download possible),
// else the running node's own prefix. Skips the build when the .node is newer than its sources.
import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const optional = process.argv.includes('--optional')
const force = process.argv.includes('--force')
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dir = join(root, 'native', 'capture')
const out = join(dir, 'build', 'Release', 'ambient_capture.node')
const sources = ['capture.c', 'binding.gyp'].map((f) => join(dir, f))

const fail = (message) => {
  if (optional) {
    console.log(`native capture addon not built (${message}); every mode but --capture inpod works without it`)
    process.exit(0)
  }
  console.error(`native capture addon: ${message}`)
  process.exit(1)
}

if (process.platform !== 'linux') fail(`in-pod capture is Linux only (this is ${process.platform})`)
if (!force && existsSync(out) && sources.every((s) => statSync(s).mtimeMs <= statSync(out).mtimeMs)) process.exit(0)

const candidates = [
  process.env.npm_execpath ? join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js') : '',
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
].filter((p) => p !== '' && existsSync(p))
const gyp = candidates[0]
if (gyp === undefined) fail('node-gyp not found next to npm')
const nodedir = existsSync('/usr/include/node/node_api.h') ? '/usr' : resolve(dirname(process.execPath), '..')
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) fail(`no Node headers under ${nodedir}/include/node`)

const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], {
  cwd: dir,
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
})
if (r.status !== 0) {
  process.stderr.write(r.stdout.split('\n').slice(-20).join('\n') + r.stderr.split('\n').slice(-20).join('\n'))
  fail(`node-gyp exited with ${r.status ?? r.signal} (needs make, a C compiler and python3)`)
}
console.log(`native capture addon built: ${out.slice(root.length + 1)}`)
