import t from 'tap'
import { podRetryDelayMs } from '../../../src/ztunnel/pod-retry.js'

t.test('pod listener retries: doubling from 250 ms, capped by why the pod failed', async (t) => {
  const rows: [awaitingNetns: boolean, failures: number, ms: number][] = [
    [true, 1, 250],
    [true, 2, 500],
    [true, 3, 1000],
    [true, 4, 2000],
    [true, 5, 2000],
    [true, 1000, 2000],
    [false, 1, 250],
    [false, 4, 2000],
    [false, 7, 16_000],
    [false, 8, 30_000],
    [false, 1e9, 30_000],
    [false, 0, 250],
  ]
  for (const [awaiting, failures, ms] of rows)
    t.equal(podRetryDelayMs(awaiting, failures), ms, `${awaiting ? 'netns pending' : 'failed'} ×${failures}`)
})
