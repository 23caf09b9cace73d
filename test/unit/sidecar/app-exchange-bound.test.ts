// The inbound sidecar's bound on its app exchanges: exchanges share one signal and one timer per
// slot (1/600 of the bound); each is aborted no sooner than the bound and no later than one slot
// after it, with AbortSignal.timeout's reason; slots go away once their exchanges ended.
import t from 'tap'
import { createAppExchangeBound, slotWidthMs, type BoundClock, type BoundExchange } from '../../../src/sidecar/app-exchange-bound.js'

/** A fake clock: timers fire when the test moves time on. */
function fakeClock(): BoundClock & { advance(ms: number): void; timers(): number } {
  let now = 0
  const timers = new Set<{ at: number; fire: () => void }>()
  return {
    now: () => now,
    setTimer(fire, ms) {
      const timer = { at: now + ms, fire }
      timers.add(timer)
      return () => timers.delete(timer)
    },
    advance(ms) {
      now += ms
      for (const timer of [...timers].sort((a, b) => a.at - b.at)) if (timer.at <= now && timers.delete(timer)) timer.fire()
    },
    timers: () => timers.size,
  }
}

t.test('slot width: 1/600 of the bound, at least 1 ms', async (t) => {
  const cases: Array<[number, number]> = [
    [600_000, 1000],
    [60_000, 100],
    [1000, 2],
    [100, 1],
    [1, 1],
  ]
  for (const [bound, width] of cases) t.equal(slotWidthMs(bound), width, `${bound} ms`)
})

// Steps on a bound of 600 ms (slots of 1 ms): start exchanges at times, end some, and check which
// are aborted when.
t.test('each exchange is aborted between the bound and one slot after it, never sooner', async (t) => {
  const cases: Array<{ name: string; starts: number[]; checkAt: number; aborted: boolean[] }> = [
    { name: 'just before the bound', starts: [0], checkAt: 599, aborted: [false] },
    { name: 'at the bound plus one slot', starts: [0], checkAt: 601, aborted: [true] },
    { name: 'same slot, started later: still a full bound', starts: [0, 0.9], checkAt: 600.8, aborted: [false, false] },
    { name: 'same slot, both past it', starts: [0, 0.9], checkAt: 601, aborted: [true, true] },
    { name: 'a later slot is not aborted with an earlier one', starts: [0, 5], checkAt: 601, aborted: [true, false] },
    { name: 'the later one at its own time', starts: [0, 5], checkAt: 606, aborted: [true, true] },
  ]
  for (const c of cases) {
    const clock = fakeClock()
    const bound = createAppExchangeBound(600, clock)
    const held: BoundExchange[] = []
    let at = 0
    for (const start of c.starts) {
      clock.advance(start - at)
      at = start
      held.push(bound.begin())
    }
    clock.advance(c.checkAt - at)
    t.same(
      held.map((h) => h.signal.aborted),
      c.aborted,
      c.name,
    )
    for (const h of held)
      if (h.signal.aborted) t.match(h.signal.reason, { name: 'TimeoutError', message: 'The operation was aborted due to timeout' })
  }
})

t.test('exchanges in one slot share its signal; a new slot after it', async (t) => {
  const clock = fakeClock()
  const bound = createAppExchangeBound(600_000, clock)
  const a = bound.begin()
  clock.advance(999)
  const b = bound.begin()
  clock.advance(1)
  const c = bound.begin()
  t.equal(a.signal, b.signal, 'same slot')
  t.not(c.signal, a.signal, 'the next second: the next slot')
  t.equal(clock.timers(), 2, 'one timer per slot, none per exchange')
})

t.test('slots go once they are past and their exchanges ended; the timers with them', async (t) => {
  const clock = fakeClock()
  const bound = createAppExchangeBound(600, clock)
  const a = bound.begin()
  const b = bound.begin()
  a.end()
  t.equal(bound.slots(), 1, 'the current slot stays while exchanges may join it')
  clock.advance(2)
  const c = bound.begin()
  t.equal(bound.slots(), 2, 'the past slot still holds one exchange')
  b.end()
  t.equal(bound.slots(), 1, 'its last exchange ended: dropped')
  t.equal(clock.timers(), 1)
  c.end()
  clock.advance(2)
  bound.begin().end()
  t.equal(bound.slots(), 1, 'an idle past slot is dropped when the next one opens')
  t.equal(clock.timers(), 1)
  // A slot whose timer fired while it still held an exchange goes when that one ends.
  const late = bound.begin()
  clock.advance(700)
  t.ok(late.signal.aborted)
  const next = bound.begin()
  t.not(next.signal, late.signal, 'an aborted slot takes no new exchange')
  late.end()
  next.end()
  t.equal(bound.slots(), 1)
  bound.close()
  t.equal(bound.slots(), 0)
  t.equal(clock.timers(), 0, 'close clears every timer')
})

t.test('the real clock: a short bound aborts a held exchange', async (t) => {
  const bound = createAppExchangeBound(20)
  const held = bound.begin()
  // The bound's timers do not keep the process alive; this hang guard does meanwhile.
  const guard = setTimeout(() => undefined, 10_000)
  await new Promise<void>((resolve) => held.signal.addEventListener('abort', () => resolve(), { once: true }))
  clearTimeout(guard)
  t.equal((held.signal.reason as DOMException).name, 'TimeoutError')
  held.end()
  bound.close()
  t.equal(bound.slots(), 0)
})
