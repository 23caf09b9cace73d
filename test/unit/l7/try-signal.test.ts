import t from 'tap'
import { NEVER_ABORTS, TryTimers, canAbort } from '../../../src/l7/try-signal.js'
import { eventually } from '../../helpers/eventually.js'

const isTimeout = (reason: unknown): boolean => reason instanceof DOMException && reason.name === 'TimeoutError'

t.test('a try without deadline or own timeout gets the shared signal that never aborts', (t) => {
  const timers = new TryTimers()
  const signal = timers.nextTry(null)
  t.equal(signal, NEVER_ABORTS)
  t.notOk(canAbort(signal), 'exchanges hang no listener on it')
  t.notOk(signal.aborted)
  timers.clear()
  t.end()
})

t.test("a try's own timeout aborts that try with AbortSignal.timeout's reason and says so", async (t) => {
  const timers = new TryTimers()
  const signal = timers.nextTry(1)
  t.ok(canAbort(signal))
  await eventually(() => signal.aborted)
  t.ok(isTimeout(signal.reason), 'TimeoutError, as AbortSignal.timeout gives')
  t.ok(timers.tryTimedOut)
  t.notOk(timers.deadlineHit)
  const next = timers.nextTry(60_000)
  t.notOk(timers.tryTimedOut, 'the next try starts with its own timeout unspent')
  t.notOk(next.aborted)
  timers.clear()
})

t.test('the deadline aborts the current try, and a try started after it is aborted at once', async (t) => {
  const timers = new TryTimers()
  timers.startDeadline(1)
  const first = timers.nextTry(null)
  t.ok(canAbort(first), 'bounded by the deadline')
  await eventually(() => first.aborted)
  t.ok(timers.deadlineHit)
  t.notOk(timers.tryTimedOut)
  t.ok(isTimeout(first.reason))
  const second = timers.nextTry(60_000)
  t.ok(second.aborted, 'no time left for another try')
  t.ok(isTimeout(second.reason))
  timers.clear()
})

t.test('a request answered clears its timers: nothing aborts afterwards', async (t) => {
  const timers = new TryTimers()
  timers.startDeadline(5)
  const signal = timers.nextTry(5)
  timers.clear()
  // Not a sleep for time to pass: Node runs timers of one duration in the order they were set, so
  // when this one fires the cleared ones would have fired before it.
  await new Promise((resolve) => setTimeout(resolve, 5))
  t.notOk(signal.aborted)
  t.notOk(timers.deadlineHit)
  t.notOk(timers.tryTimedOut)
})
