import t from 'tap'
import type { MeshCa } from '../../../src/identity/ca.js'
import { CaErrorCode } from '../../../src/identity/ca.js'
import type { CertificateEvent, SetTimer } from '../../../src/identity/cert-manager.js'
import { CertManagerErrorCode, createCertificateManager } from '../../../src/identity/cert-manager.js'
import { createCsr } from '../../../src/identity/csr.js'
import type { CertificateSigner, SignRequest } from '../../../src/identity/signer.js'
import { caSigner } from '../../../src/identity/signer.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { createTestPki } from '../../helpers/pki.js'

const HOUR = 3_600_000
const T0 = Date.UTC(2030, 0, 1)
const alice = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/alice')
const bob = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/bob')

/** A manual clock and timer queue: time moves only when the test says so. */
function fakeTime(start: number) {
  let nowMs = start
  const timers = new Set<{ at: number; fn: () => void; delay: number }>()
  const setTimer: SetTimer = (fn, delay) => {
    const timer = { at: nowMs + delay, fn, delay }
    timers.add(timer)
    return { cancel: () => void timers.delete(timer) }
  }
  return {
    now: () => nowMs,
    setTimer,
    timers,
    nextAt: () => Math.min(...[...timers].map((x) => x.at)),
    /** Moves the clock forward, firing due timers in order. */
    advanceTo(target: number) {
      for (;;) {
        const due = [...timers].filter((x) => x.at <= target).sort((a, b) => a.at - b.at)[0]
        if (!due) break
        timers.delete(due)
        nowMs = due.at
        due.fn()
      }
      nowMs = target
    },
  }
}

/** Everything after the CA's answer is synchronous or microtasks: one macrotask turn settles it. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A signer the test answers by hand: `pass()` lets the real CA sign, `fail()` refuses. */
function gatedSigner(ca: MeshCa) {
  type Call = { req: SignRequest; pass(): Promise<void>; fail(err?: Error): Promise<void> }
  const queue: Call[] = []
  const waiting: Array<(c: Call) => void> = []
  let count = 0
  const signer: CertificateSigner = {
    sign(req) {
      count++
      return new Promise((resolve, reject) => {
        const call: Call = {
          req,
          pass: async () => {
            resolve(await ca.signCsr(req.csrPem, { ttlMs: req.ttlMs }))
            await flush()
          },
          fail: async (err = Object.assign(new Error('CA unavailable'), { code: 'UNAVAILABLE' })) => {
            reject(err)
            await flush()
          },
        }
        const w = waiting.shift()
        if (w) w(call)
        else queue.push(call)
      })
    },
  }
  return {
    signer,
    get count() {
      return count
    },
    next: () =>
      new Promise<Call>((resolve) => {
        const c = queue.shift()
        if (c) resolve(c)
        else waiting.push(resolve)
      }),
  }
}

async function setup(
  t: { teardown(fn: () => unknown): void },
  opts: { ttlMs?: number; backoff?: { initialMs?: number; maxMs?: number } } = {},
) {
  const time = fakeTime(T0)
  const pki = await createTestPki({ now: time.now })
  t.teardown(() => pki.close())
  const gate = gatedSigner(pki.ca)
  const warnings: object[] = []
  const logger = { info: () => {}, warn: (obj: object) => void warnings.push(obj) }
  const manager = createCertificateManager({
    signer: gate.signer,
    now: time.now,
    setTimer: time.setTimer,
    ttlMs: opts.ttlMs ?? HOUR,
    logger,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  })
  t.teardown(() => manager.close())
  const events: CertificateEvent[] = []
  manager.subscribe((e) => events.push(e))
  return { time, pki, gate, manager, events, warnings }
}

t.test('first get fetches once; concurrent callers share the request', async (t) => {
  const { gate, manager, events, time } = await setup(t)
  t.equal(manager.state(alice), undefined)
  const gets = [manager.get(alice), manager.get(alice), manager.get(alice)]
  const call = await gate.next()
  t.equal(manager.state(alice), 'pending')
  t.ok(call.req.identity.equals(alice))
  t.equal(call.req.ttlMs, HOUR)
  await call.pass()
  const [a, b, c] = await Promise.all(gets)
  t.equal(a, b)
  t.equal(b, c)
  t.equal(gate.count, 1)
  t.ok(a!.identity.equals(alice))
  t.equal(await manager.get(alice), a, 'cached')
  t.equal(manager.current(alice), a)
  t.equal(manager.current(bob), undefined)
  t.equal(manager.state(alice), 'available')
  t.equal(events.length, 1)
  t.equal(events[0]!.certificate, a)
  t.equal(events[0]!.previous, undefined)
  t.same(manager.dump(), [
    {
      identity: alice.toString(),
      state: 'available',
      serialNumber: a!.serialNumber,
      validFrom: new Date(T0).toISOString(),
      expirationTime: new Date(T0 + HOUR).toISOString(),
    },
  ])
  t.equal(time.timers.size, 1, 'one renewal timer')
  t.equal(time.nextAt(), T0 + HOUR / 2, 'renewal at half-life')
})

t.test('renews at half-life and announces the rotation', async (t) => {
  const { gate, manager, events, time } = await setup(t)
  const first = manager.get(alice)
  await (await gate.next()).pass()
  const old = await first
  time.advanceTo(T0 + HOUR / 2 - 1)
  t.equal(gate.count, 1, 'not before half-life')
  time.advanceTo(T0 + HOUR / 2)
  const renewal = await gate.next()
  t.equal(manager.state(alice), 'renewing')
  t.equal(await manager.get(alice), old, 'old certificate served while renewing')
  await renewal.pass()
  const fresh = manager.current(alice)!
  t.not(fresh.serialNumber, old.serialNumber)
  t.not(fresh.keyPem, old.keyPem, 'a new key per certificate')
  t.equal(fresh.notBefore.getTime(), T0 + HOUR / 2)
  t.equal(events.length, 2)
  t.equal(events[1]!.previous, old)
  t.equal(events[1]!.certificate, fresh)
  t.equal(time.nextAt(), T0 + HOUR, 'next renewal at the new half-life')
})

t.test('failed renewal: exponential backoff, old certificate served until it expires', async (t) => {
  const { gate, manager, time, warnings } = await setup(t, { backoff: { initialMs: 100, maxMs: 1_000 } })
  const first = manager.get(alice)
  await (await gate.next()).pass()
  const old = await first
  time.advanceTo(T0 + HOUR / 2)
  let at = T0 + HOUR / 2
  const delays: number[] = []
  for (let i = 0; i < 6; i++) {
    await (await gate.next()).fail()
    t.equal(manager.state(alice), 'renewing-failed')
    t.equal(await manager.get(alice), old, 'still serving the old certificate')
    delays.push(time.nextAt() - at)
    at = time.nextAt()
    time.advanceTo(at)
  }
  t.same(delays, [100, 200, 400, 800, 1_000, 1_000], 'doubling, capped')
  t.equal(warnings.length, 6)
  t.match(warnings[0], { identity: alice.toString(), code: 'UNAVAILABLE', failures: 1, retryInMs: 100 })

  // Keep failing past the expiry of the old certificate.
  await (await gate.next()).fail()
  time.advanceTo(old.notAfter.getTime())
  await (await gate.next()).fail()
  t.equal(manager.state(alice), 'expired')
  t.equal(manager.current(alice), undefined)
  await t.rejects(manager.get(alice), { code: CertManagerErrorCode.unavailable })
  t.equal(manager.dump()[0]!.state, 'expired')

  time.advanceTo(time.nextAt())
  await (await gate.next()).pass()
  t.equal(manager.state(alice), 'available')
  t.not((await manager.get(alice)).serialNumber, old.serialNumber)
})

t.test('a failed first request rejects, then backs off instead of hammering the CA', async (t) => {
  const { gate, manager, time } = await setup(t)
  const first = t.rejects(manager.get(alice), { code: 'UNAVAILABLE' }, 'the caller sees the CA error')
  await (await gate.next()).fail()
  await first
  t.equal(manager.state(alice), 'unavailable')
  t.same(manager.dump(), [{ identity: alice.toString(), state: 'unavailable' }])
  await t.rejects(manager.get(alice), { code: CertManagerErrorCode.unavailable })
  t.equal(gate.count, 1, 'no request during backoff')
  time.advanceTo(time.nextAt())
  await (await gate.next()).pass()
  t.ok((await manager.get(alice)).identity.equals(alice))
})

t.test('answers that are not a usable certificate for us are refused', async (t) => {
  const time = fakeTime(T0)
  const pki = await createTestPki({ now: time.now })
  t.teardown(() => pki.close())
  const answers: Record<string, (req: SignRequest) => Promise<{ certChainPem: string[] }>> = {
    'another identity': async (req) => pki.ca.signCsr((await createCsr(bob)).csrPem, { ttlMs: req.ttlMs }),
    'no root at the end': async (req) => ({ certChainPem: (await pki.ca.signCsr(req.csrPem)).certChainPem.slice(0, 1) }),
    'another key': async () => pki.ca.signCsr((await createCsr(alice)).csrPem),
    'already expired': async (req) => pki.ca.signCsr(req.csrPem, { ttlMs: HOUR, notBefore: new Date(T0 - 2 * HOUR) }),
  }
  for (const [name, sign] of Object.entries(answers)) {
    const manager = createCertificateManager({ signer: { sign }, now: time.now, setTimer: time.setTimer })
    await t.rejects(manager.get(alice), { code: CertManagerErrorCode.badResponse, side: 'upstream' }, name)
    await manager.close()
  }
})

t.test('forget and close cancel timers; nothing is scheduled after close', async (t) => {
  const { gate, manager, time } = await setup(t)
  const a = manager.get(alice)
  await (await gate.next()).pass()
  await a
  const b = manager.get(bob)
  await (await gate.next()).pass()
  await b
  t.equal(time.timers.size, 2)
  manager.forget(alice)
  t.equal(time.timers.size, 1)
  t.equal(manager.state(alice), undefined)

  const late = manager.get(alice)
  const pending = await gate.next()
  await manager.close()
  t.equal(time.timers.size, 0, 'close cleared every timer')
  await pending.pass()
  await late
  t.equal(time.timers.size, 0, 'an answer arriving after close schedules nothing')
  await t.rejects(manager.get(alice), { code: CertManagerErrorCode.closed })
})

t.test('listeners: a throwing one is isolated, unsubscribe works', async (t) => {
  const { gate, manager, events, warnings } = await setup(t)
  const unsubscribe = manager.subscribe(() => {
    throw new Error('listener bug')
  })
  const seen: CertificateEvent[] = []
  const off = manager.subscribe((e) => seen.push(e))
  off()
  const a = manager.get(alice)
  await (await gate.next()).pass()
  await a
  unsubscribe()
  t.equal(events.length, 1)
  t.equal(seen.length, 0)
  t.match(warnings, [{ err: 'listener bug' }])
})

t.test('waits longer than setTimeout allows are chained', async (t) => {
  const longTtl = 90 * 24 * HOUR
  const { gate, manager, time } = await setup(t, { ttlMs: longTtl })
  const a = manager.get(alice)
  await (await gate.next()).pass()
  await a
  t.ok(
    [...time.timers].every((x) => x.delay <= 2 ** 31 - 1),
    'delay clamped',
  )
  time.advanceTo(T0 + longTtl / 2 - 1)
  t.equal(gate.count, 1, 'woke early and went back to sleep')
  time.advanceTo(T0 + longTtl / 2)
  await (await gate.next()).pass()
  t.equal(gate.count, 2)
})

t.test('caSigner and real timers', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const signer = caSigner(pki.ca)
  const { csrPem } = await createCsr(alice)
  await t.rejects(signer.sign({ csrPem, ttlMs: HOUR, identity: bob }), { code: CaErrorCode.identityMismatch })
  const manager = createCertificateManager({ signer })
  const cert = await manager.get(alice)
  t.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 24 * HOUR, '24 h by default')
  await manager.close()
})
