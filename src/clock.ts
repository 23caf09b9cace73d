// Wall-clock milliseconds since the epoch, at sub-millisecond resolution (performance.timeOrigin +
// performance.now()): the default clock of flow records and the proxies (tests inject their own), and
// the timestamps the benches compare across processes.

// The process's time origin does not change; its getter is a call into the runtime on each read.
const origin = performance.timeOrigin

export const epochNow = (): number => origin + performance.now()
