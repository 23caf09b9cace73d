// Behaviour suite, both modes, same YAML (test/helpers/behaviour-scenario.ts): L7 and L4
// authorization. Where Istio's two modes really differ, the test says so and expects each mode's
// own answer (a user moving from sidecars to ambient meets exactly these):
//  - deny-all (the seed's 08, a namespace-wide ALLOW matching nothing): in ambient it is enforced by
//    the destination pods' ztunnel at L4, so the waypoint's upstream connection is refused (503); in
//    sidecar mode the destination's sidecar answers 403 at L7. Nothing reaches the app in either.
//  - the seed's allow-reviews (07, a `selector` policy with methods and paths): a sidecar enforces
//    it at L7; ambient's ztunnel cannot see HTTP, drops the rule (analyzer AMB0101), and the
//    waypoint never sees selector policies — so productpage is let in by the sidecar only.
import t from 'tap'
import type net from 'node:net'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, requestsTotal, startMeshUnderTest, type MeshMode } from '../../helpers/mesh-under-test.js'

const SEED = resolve(import.meta.dirname, '../../fixtures/seed')
const seed = (file: string): string => readFileSync(resolve(SEED, file), 'utf8')
const EMPTY = '# nothing here\n'

const DENY_BLOCKED_PATH = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-deny-blocked
  namespace: default
spec:
  targetRefs:
    - kind: Service
      group: ""
      name: reviews
  action: DENY
  rules:
    - to:
        - operation:
            paths: ["/blocked/*"]
`

/** A raw HTTP/1.1 GET from outside the mesh on `socket` (connecting to host): the status line, or null when closed without one. */
function plaintextGet(socket: net.Socket, host: string): Promise<string | null> {
  return new Promise((done) => {
    let data = ''
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1')
      if (data.includes('\r\n')) {
        done(data.split('\r\n')[0]!)
        socket.destroy()
      }
    })
    socket.on('error', () => done(null))
    socket.on('close', () => done(data.includes('\r\n') ? data.split('\r\n')[0]! : null))
    socket.write(`GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`)
  })
}

const DENY_ALL_STATUS: Record<MeshMode, number> = { ambient: 503, sidecar: 403 }
const SEED_07_PRODUCTPAGE_STATUS: Record<MeshMode, number> = { ambient: 403, sidecar: 200 }

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  const { mode } = c
  t.test(`${c.name}: authorization`, { timeout: c.timeoutMs, skip: c.skip }, async (t) => {
    const m = await startMeshUnderTest(t, c)
    const reached = (): number => m.apps.seenUnder('/').filter((s) => s.pod.startsWith('reviews-')).length

    await t.test('L7 ALLOW on the Service: GET from client only', async (t) => {
      t.equal((await m.request({ path: '/reviews/1' })).status, 200)
      const before = reached()
      const post = await m.request({ method: 'POST', path: '/reviews/1' })
      t.equal(post.status, 403)
      t.equal(post.body, 'RBAC: access denied')
      const other = await m.request({ from: 'other', path: '/reviews/1' })
      t.equal(other.status, 403, 'another principal')
      t.equal(other.body, 'RBAC: access denied')
      t.equal(reached(), before, 'denied requests never reach the app')
      t.equal((await m.request({ from: 'other', service: 'ratings' })).status, 200, 'ratings has no policy: other may call it')
    })

    await t.test('a policy change reaches the next request on a kept-alive connection', async (t) => {
      t.equal((await m.request({ path: '/blocked/1' })).status, 200)
      await m.writeFile('deny-blocked.yaml', DENY_BLOCKED_PATH)
      await m.converged()
      t.equal((await m.request({ path: '/blocked/1' })).status, 403, 'DENY on the path')
      t.equal((await m.request({ path: '/reviews/1' })).status, 200, 'other paths still allowed')
      await m.writeFile('deny-blocked.yaml', EMPTY)
      await m.converged()
      t.equal((await m.request({ path: '/blocked/1' })).status, 200, 'allowed again once the policy is gone')
    })

    await t.test(
      `the seed's deny-all: ratings (no other ALLOW) denied — ${mode}: ${DENY_ALL_STATUS[mode]}; reviews' own ALLOWs still admit client`,
      async (t) => {
        await m.writeFile('deny-all.yaml', seed('08-authorizationpolicy-deny-all.yaml'))
        await m.converged()
        const ratingsBefore = m.apps.seen.get('ratings-v1')!.length
        const r = await m.request({ service: 'ratings', fresh: true })
        t.equal(r.status, DENY_ALL_STATUS[mode], r.body)
        t.equal(m.apps.seen.get('ratings-v1')!.length, ratingsBefore, 'ratings never saw it')
        t.equal(
          (await m.request({ path: '/reviews/1', fresh: true })).status,
          200,
          'ALLOW policies are ORed: reviews-get-only still admits client',
        )
        await m.writeFile('deny-all.yaml', EMPTY)
        await m.converged()
        t.equal((await m.request({ service: 'ratings', fresh: true })).status, 200, 'ratings allowed again')
      },
    )

    await t.test(
      `the seed's allow-reviews (selector + L7 fields): productpage ${SEED_07_PRODUCTPAGE_STATUS[mode]} in ${mode}`,
      async (t) => {
        await m.writeFile('allow-reviews.yaml', seed('07-authorizationpolicy-allow-reviews.yaml'))
        await m.converged()
        t.equal((await m.request({ from: 'productpage', path: '/reviews/1', fresh: true })).status, SEED_07_PRODUCTPAGE_STATUS[mode])
        t.equal((await m.request({ path: '/reviews/1', fresh: true })).status, 200, 'client still allowed by reviews-get-only')
        if (mode === 'ambient') {
          t.ok(
            m.istiod.analysis().some((a) => a.code === 'AMB0101'),
            'istiod warns that ztunnel cannot enforce the HTTP fields',
          )
        }
        await m.writeFile('allow-reviews.yaml', EMPTY)
        await m.converged()
      },
    )

    await t.test('PeerAuthentication STRICT: plaintext from outside the mesh refused, mesh traffic passes', async (t) => {
      const ratings = m.workload('ratings-v1').addresses[0]!
      t.equal(await plaintextGet(m.outside(ratings, 9080), ratings), 'HTTP/1.1 200 OK', 'PERMISSIVE (default): plaintext admitted')
      await m.writeFile('strict.yaml', seed('06-peerauthentication-strict.yaml').replace('namespace: my-namespace', 'namespace: default'))
      await m.converged()
      t.equal(await plaintextGet(m.outside(ratings, 9080), ratings), null, 'STRICT: closed without an answer')
      t.equal((await m.request({ service: 'ratings', fresh: true })).status, 200, 'mutual TLS from a mesh pod still passes')
      t.ok(requestsTotal(await m.l7Metrics(), { reporter: m.l7Reporter, destination_service_name: 'ratings', response_code: '200' }) >= 1)
    })
  })
}
