// In-pod capture: what the runner prints for a waypoint's metrics (pod IPs are unreachable from the
// host, so a command that runs curl in the waypoint's namespace) and which targets `ambient exec`
// takes for a waypoint.
import t from 'tap'
import { findWaypoint } from '../../../src/cli/commands/exec.js'
import { waypointMetricsAccess, type RunStatePod } from '../../../src/cluster/run-state.js'

const pod = (namespace: string, name: string, workload = name): RunStatePod => ({
  namespace,
  name,
  workload,
  node: 'node-1',
  podIP: '10.244.1.2',
  podLocalIP: '10.244.1.2',
  captured: true,
  serviceAccount: name,
  images: [],
})
const wp = (namespace: string, name: string, ip = '10.244.2.9'): { namespace: string; name: string; ip: string; running: boolean } => ({
  namespace,
  name,
  ip,
  running: true,
})

t.test('waypoint metrics: a URL with SOCKS capture, an `ambient exec` command in-pod', async (t) => {
  const w = wp('default', 'waypoint', '10.244.2.9')
  t.equal(waypointMetricsAccess({}, { ...w, ip: '127.244.2.9' }), 'http://127.244.2.9:15020/metrics')
  t.equal(
    waypointMetricsAccess({ capture: { kind: 'inpod', netnsPrefix: 'amb123456-' } }, w),
    './ambient exec -n default waypoint -- curl -s http://10.244.2.9:15020/metrics',
  )
  t.equal(
    waypointMetricsAccess({ capture: { kind: 'inpod', netnsPrefix: 'amb123456-' } }, w, 'npx ambient', ' --state-dir /tmp/s'),
    'npx ambient exec --state-dir /tmp/s -n default waypoint -- curl -s http://10.244.2.9:15020/metrics',
  )
})

const cases: { name: string; target: string; ns?: string; pods: RunStatePod[]; want: string | undefined }[] = [
  { name: 'by name', target: 'waypoint', pods: [pod('default', 'curl')], want: 'default/waypoint' },
  { name: 'waypoint/NAME', target: 'waypoint/waypoint', pods: [pod('default', 'waypoint')], want: 'default/waypoint' },
  { name: 'a pod of that name wins', target: 'waypoint', pods: [pod('default', 'waypoint')], want: undefined },
  { name: 'a Deployment of that name wins', target: 'waypoint', pods: [pod('default', 'waypoint-x1', 'waypoint')], want: undefined },
  { name: 'the default namespace wins a tie', target: 'waypoint', pods: [], want: 'default/waypoint' },
  { name: '-n picks the namespace', target: 'waypoint', ns: 'bookinfo', pods: [], want: 'bookinfo/waypoint' },
  { name: 'unknown', target: 'nosuch', pods: [], want: undefined },
]
for (const c of cases) {
  t.test(`findWaypoint: ${c.name}`, async (t) => {
    const got = findWaypoint([wp('bookinfo', 'waypoint'), wp('default', 'waypoint')], c.pods, c.target, c.ns)
    t.equal(got === undefined ? undefined : `${got.namespace}/${got.name}`, c.want)
  })
}
