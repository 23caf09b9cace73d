#!/usr/bin/env node
// Generates the protobuf code of src/xds from proto/ with protobufjs-cli (static code, ES modules,
// numbers for 64-bit integers, no service stubs: grpc-js definitions are written by hand).
//
//   node scripts/gen-proto.mjs           regenerate src/xds/gen/messages.js and messages.d.ts
//   node scripts/gen-proto.mjs --check   fail if the committed files differ from a fresh generation
//   node scripts/gen-proto.mjs --copy    write the generated .js, compacted, into dist/xds/gen (after tsc)
//
// The generated code is committed, so building does not need this script's generation step. tsc
// (allowJs false) type-checks against messages.d.ts but does not emit the .js, hence `--copy`,
// which `npm run build` runs after tsc.
//
// The copy in dist has no comments and no indentation (compactGeneratedJs): V8 keeps a module's
// whole source text for as long as the process runs (functions compile lazily from it), and the
// JSDoc that pbts needs to write messages.d.ts is two thirds of the 0.54 MB file. Every process fed
// by istiod (waypoint, ztunnel, sidecar) and istiod itself hold 0.17 MB instead.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { compactGeneratedJs } from './compact-js.mjs'

const root = resolve(import.meta.dirname, '..')
const protoDir = join(root, 'proto')
const genDir = join(root, 'src/xds/gen')
const distDir = join(root, 'dist/xds/gen')
const pbjs = join(root, 'node_modules/protobufjs-cli/bin/pbjs')

function protoFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = join(dir, e.name)
      return e.isDirectory() ? protoFiles(p) : e.name.endsWith('.proto') ? [relative(protoDir, p)] : []
    })
    .sort()
}

function generate(outDir) {
  mkdirSync(outDir, { recursive: true }) // pbjs does not create its output folder
  const out = join(outDir, 'messages.js')
  execFileSync(
    process.execPath,
    [
      pbjs,
      '-t',
      'static-module',
      '-w',
      'esm',
      '-d',
      '--force-number',
      '--no-service',
      '--no-verify',
      '--no-convert',
      '--no-delimited',
      // Node ESM needs the file extension; protobufjs has no "exports" map.
      '--dependency',
      'protobufjs/minimal.js',
      '-p',
      protoDir,
      '-o',
      out,
      ...protoFiles(protoDir).map((f) => join(protoDir, f)),
    ],
    { cwd: protoDir, stdio: 'inherit' },
  )
  return ['messages.js', 'messages.d.ts']
}

const mode = process.argv[2] ?? 'generate'
if (mode === 'generate') {
  generate(genDir)
  console.log(`generated ${relative(root, genDir)}/messages.{js,d.ts}`)
} else if (mode === '--check') {
  const tmp = mkdtempSync(join(tmpdir(), 'gen-proto-'))
  try {
    const stale = generate(tmp).filter((f) => readFileSync(join(tmp, f), 'utf8') !== readFileSync(join(genDir, f), 'utf8'))
    if (stale.length > 0) {
      console.error(`src/xds/gen is out of date (${stale.join(', ')}): run \`npm run proto\` and commit`)
      process.exitCode = 1
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
} else if (mode === '--copy') {
  mkdirSync(distDir, { recursive: true })
  for (const f of readdirSync(genDir))
    if (f.endsWith('.js')) writeFileSync(join(distDir, f), compactGeneratedJs(readFileSync(join(genDir, f), 'utf8')))
} else {
  console.error(`unknown mode ${mode} (use --check or --copy, or nothing to generate)`)
  process.exitCode = 2
}
