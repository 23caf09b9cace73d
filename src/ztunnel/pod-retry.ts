// When ztunnel cannot open a pod's listeners, it tries again on its own (in-pod and ZDS: nothing
// else would ask). The delay doubles from 250 ms while the pod keeps failing, and starts over once
// the pod is served or gone. A namespace that is not there or not wired yet is the usual, short
// case (the CNI is still setting the pod up), so its cap is low; a real failure (a port in use, a
// pod IP of a family its namespace does not have) waits up to 30 s between attempts instead of
// being retried four times a second for ever. Pure.

export const POD_RETRY = { initialMs: 250, awaitingNetnsMaxMs: 2_000, failedMaxMs: 30_000 } as const

/** The delay before attempt `failures + 1`, after `failures` (≥ 1) failed ones in a row. */
export function podRetryDelayMs(awaitingNetns: boolean, failures: number): number {
  const cap = awaitingNetns ? POD_RETRY.awaitingNetnsMaxMs : POD_RETRY.failedMaxMs
  const doublings = Math.min(Math.max(failures, 1) - 1, 30)
  return Math.min(POD_RETRY.initialMs * 2 ** doublings, cap)
}
