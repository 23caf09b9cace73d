// When ztunnel cannot open a pod's listeners, it tries again on its own (in-pod and ZDS: nothing
// else would ask). The delay doubles from 250 ms while the pod keeps failing, and starts over once
// the pod is served or gone. A namespace that is not there or not wired yet is the usual, short
// case (the CNI is still setting the pod up), so its cap is low; it is also how an IPv6 pod in a
// namespace without IPv6 shows (its ::1 never comes up), now tried every 2 s instead of four times
// a second. Any other failure (a port in use, a missing certificate) waits up to 30 s. Pure.

export const POD_RETRY = { initialMs: 250, awaitingNetnsMaxMs: 2_000, failedMaxMs: 30_000 } as const

/** The delay before attempt `failures + 1`, after `failures` (≥ 1) failed ones in a row. */
export function podRetryDelayMs(awaitingNetns: boolean, failures: number): number {
  const cap = awaitingNetns ? POD_RETRY.awaitingNetnsMaxMs : POD_RETRY.failedMaxMs
  const doublings = Math.min(Math.max(failures, 1) - 1, 30)
  return Math.min(POD_RETRY.initialMs * 2 ** doublings, cap)
}
