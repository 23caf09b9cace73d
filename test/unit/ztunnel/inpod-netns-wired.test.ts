// When ztunnel may open a pod's sockets in its namespace (src/ztunnel/inpod-listeners.ts): once the
// loopback address of the pod's family is up. Before, a UDP socket bound to it replies from the pod IP.
import t from 'tap'
import { awaitingPodNetns, InpodErrorCode, podNetnsWired } from '../../../src/ztunnel/inpod-listeners.js'

const rows: [string, string[], 4 | 6, boolean][] = [
  ['a new namespace: nothing up', [], 4, false],
  ['eth0 addressed, loopback still down', ['10.244.1.7'], 4, false],
  ['loopback up', ['127.0.0.1', '::1'], 4, true],
  ['wired', ['127.0.0.1', '10.244.1.7', '::1'], 4, true],
  ['IPv6 pod: ::1 is what counts', ['127.0.0.1', 'fd00::7'], 6, false],
  ['IPv6 pod, loopback up', ['::1', 'fd00::7'], 6, true],
]
for (const [name, addresses, family, want] of rows) t.equal(podNetnsWired(addresses, family), want, name)

t.ok(awaitingPodNetns(InpodErrorCode.noNetns), 'no namespace yet: retried, not pending for readiness')
t.ok(awaitingPodNetns(InpodErrorCode.netnsNotWired), 'not wired yet: the same')
t.notOk(awaitingPodNetns('EADDRINUSE'), 'any other failure is one')
