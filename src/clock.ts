// Wall-clock milliseconds since the epoch, at sub-millisecond resolution (performance.timeOrigin +
// performance.now()): the default clock of flow records and the proxies (tests inject their own), and
// the timestamps the benches compare across processes.

export const epochNow = (): number => performance.timeOrigin + performance.now()
