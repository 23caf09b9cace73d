import { mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createLocalConfigSource } from '../../../src/mesh/config-source.js'
import type { ConfigReport, LocalConfigSource } from '../../../src/mesh/config-source.js'
import { MeshState } from '../../../src/mesh/state.js'

const FIXTURE = readFileSync(new URL('../../fixtures/ztunnel-local.yaml', import.meta.url), 'utf8')

const one = (ip: string, name = 'a'): string => `workloads:\n  - {name: ${name}, namespace: default, addresses: ["${ip}"]}\n`

/** Resolves with the first report that satisfies `pred` (writes may take more than one event). */
function reportWhere(source: LocalConfigSource, pred: (r: ConfigReport) => boolean): Promise<ConfigReport> {
  return new Promise((resolve) => {
    const on = (r: ConfigReport): void => {
      if (!pred(r)) return
      source.off('report', on)
      resolve(r)
    }
    source.on('report', on)
  })
}

/** Replaces the file the way most editors save: write a temporary file, rename it over. */
function saveByRename(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`
  writeFileSync(tmp, text)
  renameSync(tmp, file)
}

/** The part of a tap Test that setup needs. */
interface Cleanup {
  teardown(fn: () => unknown): void
}

async function setup(t: Cleanup, text: string): Promise<{ file: string; state: MeshState; source: LocalConfigSource }> {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'ztunnel-local.yaml')
  writeFileSync(file, text)
  const state = new MeshState()
  const source = createLocalConfigSource({ file, state, debounceMs: 20 })
  t.teardown(() => source.close())
  return { file, state, source }
}

t.test('start loads the file and reports the effective config', async (t) => {
  const { state, source } = await setup(t, FIXTURE)
  const first = reportWhere(source, () => true)
  await source.start()
  const report = await first
  t.equal(report.outcome, 'applied')
  t.same(report.counts, { workloads: 6, services: 6, policies: 4 })
  t.same(report.errors, [])
  t.equal(state.workloadByAddress('127.244.2.2')?.name, 'httpbin-v1-5c5b5cd6b9-4wz8m')
  t.equal(source.lastReport, report)
})

t.test('reloads on change, in place and by rename', async (t) => {
  const { file, state, source } = await setup(t, one('10.0.0.1'))
  await source.start()

  let next = reportWhere(source, () => state.workloadByAddress('10.0.0.2') !== undefined)
  writeFileSync(file, one('10.0.0.2'))
  let r = await next
  t.equal(r.outcome, 'applied')
  t.equal(state.workloadByAddress('10.0.0.1'), undefined, 'address moved')

  next = reportWhere(source, () => state.workloadByAddress('10.0.0.3') !== undefined)
  saveByRename(file, one('10.0.0.3'))
  r = await next
  t.same(r.delta?.workloads.updated, ['Kubernetes//v1/Pod/default/a'])
})

t.test('a broken file keeps the last good state and reports; fixing it reloads', async (t) => {
  const { file, state, source } = await setup(t, one('10.0.0.1'))
  await source.start()
  const events: unknown[] = []
  state.subscribe((d) => events.push(d))

  let next = reportWhere(source, (r) => r.outcome === 'kept')
  saveByRename(file, 'workloads:\n  - {name: a, namespace: [oops\n')
  let r = await next
  t.equal(r.errors[0]?.code, 'MESH_CONFIG_YAML')
  t.equal(r.errors[0]?.file, file)
  t.equal(state.workloadByAddress('10.0.0.1')?.name, 'a', 'last good state kept')
  t.same(events, [])

  next = reportWhere(source, (r) => r.outcome === 'kept')
  unlinkSync(file)
  r = await next
  t.equal(r.errors[0]?.code, 'MESH_CONFIG_UNREADABLE', 'a deleted file is reported, state kept')
  t.ok(state.workloadByAddress('10.0.0.1'))

  next = reportWhere(source, (r) => r.outcome === 'applied')
  saveByRename(file, one('10.0.0.1'))
  r = await next
  t.same(r.errors, [], 'restoring the same content reports healthy again')
  t.same(events, [], 'and changes nothing')
})

t.test('invalid entries are reported; valid ones apply', async (t) => {
  const { file, state, source } = await setup(t, one('10.0.0.1'))
  await source.start()
  const next = reportWhere(source, (r) => r.errors.length > 0)
  saveByRename(
    file,
    `${one('10.0.0.1')}  - {name: b, namespace: default, addresses: ["10.0.0.999"]}\n  - {name: c, namespace: default, addresses: ["10.0.0.3"]}\n`,
  )
  const r = await next
  t.equal(r.outcome, 'applied')
  t.same(
    r.errors.map((e) => [e.code, e.path, e.line]),
    [['MESH_CONFIG_INVALID_ADDRESS', 'workloads[1].addresses[0]', 3]],
  )
  t.same(
    state
      .workloads()
      .map((w) => w.name)
      .sort(),
    ['a', 'c'],
  )
})

t.test('start fails on an unusable file; close is idempotent', async (t) => {
  const { source } = await setup(t, '{ not yaml')
  await t.rejects(source.start(), { code: 'MESH_CONFIG_INITIAL_LOAD' })
  await source.close()
  await source.close()
})

t.test('start fails on a missing file', async (t) => {
  const { file, source } = await setup(t, '')
  unlinkSync(file)
  await t.rejects(source.start(), { code: 'MESH_CONFIG_INITIAL_LOAD' })
})
