// The load generator of `bench:ztunnel`, in its own process so that its CPU (the open loop spins for
// sub-millisecond send times) is neither charged to nor competing with the proxies. It takes one task
// at a time from the parent (see http-loadgen-protocol.ts) and exits when the IPC channel closes.
import { bulkTransfer } from '../ztunnel-http.js'
import { latency, send, serveLoadgen } from './loadgen-worker.js'

serveLoadgen('http-loadgen', (task) =>
  task.type === 'latency'
    ? latency(task)
    : bulkTransfer(task.route, task.bytes, task.maxDurationMs).then((result) => send({ type: 'bulk-result', id: task.id, result })),
)
