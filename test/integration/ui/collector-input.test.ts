// The collector on hand-written run states (no processes started): a sidecar-mode cluster whose
// sidecars and istiod do not answer lists istiod's problem but none for ztunnels that do not exist,
// reports the mode and the sidecars, and says why flows and certificates have no live table; a
// corrupt or malformed run state never makes a poll throw.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunState } from '../../../src/cluster/run-state.js'
import { createCollector } from '../../../src/ui/collector.js'

// Nothing listens on 127.0.0.1:1 nor on these pod IPs: every fetch is refused at once.
const state: RunState = {
  version: 1,
  mode: 'sidecar',
  runnerPid: process.pid,
  startedAt: '2026-01-01T00:00:00.000Z',
  configDir: '/config',
  istiod: { grpc: '127.0.0.1:1', debug: '127.0.0.1:1' },
  nodes: [{ name: 'node-1', ip: '127.250.250.100' }],
  processes: [],
  pods: ['curl', 'details-v1'].map((w, i) => ({
    namespace: 'default',
    name: `${w}-x-0`,
    workload: w,
    node: 'node-1',
    podIP: `127.250.250.${i + 1}`,
    podLocalIP: `127.250.251.${i + 1}`,
    captured: true,
    serviceAccount: w,
    images: [],
  })),
  waypoints: [],
}

t.test('collector: sidecar mode with nothing answering', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-ui-collector-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'cluster.json'), JSON.stringify(state))
  const c = createCollector({ stateDir: dir })
  await c.poll()
  const st = c.status()
  t.match(st, {
    running: true,
    mode: 'sidecar',
    sidecars: [
      { pod: 'default/curl-x-0', metrics: 'http://127.250.250.1:15020/metrics', ready: 'http://127.250.250.1:15021/healthz/ready' },
      { pod: 'default/details-v1-x-0' },
    ],
  })
  t.match(st.errors, [/^istiod: /], 'istiod is down')
  t.notOk(
    st.errors.some((e) => e.includes('ztunnel')),
    'no error for ztunnels that do not exist',
  )
  t.match(c.flows(), { source: 'metrics', live: [], liveNote: /sidecar mode/ })
  t.match(c.certificates(), { certificates: [], note: /sidecar mode/ })
  t.same(
    c.graph().nodes.map((n) => n.id),
    ['wl:default/curl', 'wl:default/details-v1'],
    'workloads, no waypoint',
  )
  t.same(c.graph().edges, [])
})

t.test('collector: a bad run state is a listed problem, never a thrown poll', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-ui-collector-bad-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const c = createCollector({ stateDir: dir })
  await writeFile(join(dir, 'cluster.json'), '{ not json')
  await c.poll()
  t.match(c.status(), { running: false, errors: [/run state unreadable: .*is not JSON/] })
  await writeFile(join(dir, 'cluster.json'), JSON.stringify({ ...state, mode: 'mesh' }))
  await c.poll()
  t.match(c.status().errors, [/mode "mesh" is not ambient or sidecar/])
  await writeFile(join(dir, 'cluster.json'), JSON.stringify({ ...state, pods: [null] }))
  await c.poll()
  t.match(c.status(), { running: false, errors: [/^poll failed: /] }, 'a malformed pod entry fails the poll, not the server')
  t.match(c.flows(), { live: [] })
})
