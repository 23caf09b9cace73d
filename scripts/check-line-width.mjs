#!/usr/bin/env node
// Fails when a line of the project's own source is wider than the limit. Prettier wraps code at 140
// columns but leaves long strings and comments alone; this catches those. Generated code is exempt.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const LIMIT = 160
const ROOTS = ['src', 'test', 'scripts']
const SKIP = new Set(['node_modules', 'dist', 'gen', 'build'])
const EXT = /\.(ts|mjs|js|c)$/

const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return []
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : EXT.test(name) ? [path] : []
  })

const root = fileURLToPath(new globalThis.URL('..', import.meta.url))
const over = []
for (const file of ROOTS.flatMap((r) => walk(join(root, r)))) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.length > LIMIT) over.push(`${relative(root, file)}:${i + 1}: ${line.length} columns (limit ${LIMIT})`)
    })
}
if (over.length > 0) {
  console.error(over.join('\n'))
  console.error(`${over.length} line(s) wider than ${LIMIT} columns`)
  process.exit(1)
}
