#!/usr/bin/env node
// Fails when the relative imports under src/ form a cycle (a lint line ESLint alone does not hold
// without a heavy plugin). Type-only imports count too: a cycle of types is still a design knot.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

const root = resolve('src')
const files = []
const walk = (d) => {
  for (const e of readdirSync(d)) {
    const p = join(d, e)
    if (statSync(p).isDirectory()) {
      if (e !== 'gen') walk(p)
    } else if (p.endsWith('.ts')) files.push(p)
  }
}
walk(root)
const graph = new Map()
for (const f of files) {
  const src = readFileSync(f, 'utf8')
  const deps = []
  for (const m of src.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
    deps.push(resolve(dirname(f), m[1].replace(/\.js$/, '.ts')))
  }
  graph.set(f, deps)
}
const state = new Map()
const stack = []
let cycle = null
const visit = (n) => {
  if (cycle) return
  state.set(n, 1)
  stack.push(n)
  for (const d of graph.get(n) ?? []) {
    if (!graph.has(d)) continue
    if (state.get(d) === 1) {
      cycle = [...stack.slice(stack.indexOf(d)), d]
      return
    }
    if (!state.has(d)) visit(d)
    if (cycle) return
  }
  stack.pop()
  state.set(n, 2)
}
for (const f of files) if (!state.has(f)) visit(f)
if (cycle) {
  console.error('import cycle: ' + cycle.map((p) => p.slice(root.length + 1)).join(' -> '))
  process.exit(1)
}
console.log(`no import cycles in ${files.length} files`)
