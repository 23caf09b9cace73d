// Sidecar mode on the same YAML as ambient-with-waypoint (test/integration/waypoint/istiod-handoff):
// the same answers (90/10 split, GET passes, POST 403 from the L7 policy), but the destination sees
// the SOURCE pod's identity over sidecar-to-sidecar mTLS, and PeerAuthentication decides plaintext.
import t from 'tap'
import net from 'node:net'
import tls from 'node:tls'
import { eventually } from '../../helpers/eventually.js'
import { createTestPki } from '../../helpers/pki.js'
import { CLIENT_ID } from '../../helpers/waypoint-istiod-mesh.js'
import { startSidecarMesh } from '../../helpers/sidecar-mesh.js'
import { ISTIO_ALPN } from '../../../src/sidecar/mtls.js'

/** A raw HTTP/1.1 GET on a socket: the status line, or null when the peer closed without one. */
function rawGet(socket: net.Socket | tls.TLSSocket): Promise<string | null> {
  return new Promise((resolve) => {
    let data = ''
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1')
      if (data.includes('\r\n')) {
        resolve(data.split('\r\n')[0]!)
        socket.destroy()
      }
    })
    socket.on('error', () => resolve(null))
    socket.on('close', () => resolve(data.includes('\r\n') ? data.split('\r\n')[0]! : null))
    socket.write('GET /reviews/1 HTTP/1.1\r\nhost: reviews:9080\r\nconnection: close\r\n\r\n')
  })
}

t.test('sidecar mode: client sidecar → mTLS → reviews sidecars', async (t) => {
  const h = await startSidecarMesh(t)

  await t.test('each sidecar gets its config and identity from istiod', async (t) => {
    const client = h.sidecars.get('client')!
    t.equal(client.identity.toString(), CLIENT_ID)
    t.ok(
      client.config().services.some((s) => s.hostname === 'reviews.default.svc.cluster.local'),
      'client sees reviews',
    )
    const reviews = h.sidecars.get('reviews-v1')!.config()
    t.same(reviews.sidecar.ports, [{ port: 9080, protocol: 'HTTP' }])
    t.ok(
      reviews.authorization.some((p) => p.name === 'reviews-get-only'),
      'the Service-targeted policy is enforced at the reviews sidecar',
    )
    t.same(reviews.sidecar.peerAuthentication, [], 'PERMISSIVE by default')
    t.same(h.sidecars.get('reviews-v1')!.sidecar.pending(), [])
  })

  await t.test("GET passes; the reviews sidecar sees the client's own identity", async (t) => {
    const r = await h.request()
    t.equal(r.status, 200, r.body)
    t.match(JSON.parse(r.body), { pod: /^reviews-v[12]$/ })
    const pod = (JSON.parse(r.body) as { pod: string }).pod
    const m = await h.metrics.get(pod)!.render()
    t.match(
      m,
      new RegExp(
        String.raw`istio_requests_total\{[^}]*reporter="destination"[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/client"` +
          '[^}]*connection_security_policy="mutual_tls"',
      ),
    )
    const src = await h.metrics.get('client')!.render()
    t.match(
      src,
      /istio_requests_total\{[^}]*reporter="source"[^}]*destination_service="reviews\.default\.svc\.cluster\.local"[^}]*response_code="200"/,
    )
  })

  await t.test('POST is denied by the L7 policy at the destination sidecar', async (t) => {
    const before = h.seen.get('reviews-v1')!.length + h.seen.get('reviews-v2')!.length
    const r = await h.request({ method: 'POST' })
    t.equal(r.status, 403)
    t.equal(r.body, 'RBAC: access denied')
    t.equal(h.seen.get('reviews-v1')!.length + h.seen.get('reviews-v2')!.length, before, 'never reached reviews')
  })

  await t.test('the 90/10 split holds over 1000 requests', async (t) => {
    const counts = { 'reviews-v1': 0, 'reviews-v2': 0 } as Record<string, number>
    const total = 1000
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++
        const r = await h.request()
        if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body}`)
        counts[(JSON.parse(r.body) as { pod: string }).pod]!++
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    const v2 = counts['reviews-v2']! / total
    t.ok(v2 > 0.05 && v2 < 0.15, `v1 ${counts['reviews-v1']}, v2 ${counts['reviews-v2']} (v2 share ${v2})`)
  })

  await t.test('a client certificate from another CA is refused at the handshake', async (t) => {
    const pki = await createTestPki()
    const other = await pki.issue('spiffe://cluster.local/ns/default/sa/client')
    const reviewsIp = h.workload('reviews-v1').addresses[0]!
    const socket = tls.connect({
      host: reviewsIp,
      port: 9080,
      key: other.keyPem,
      cert: other.certChainPem.join(''),
      ca: [...other.rootsPem],
      rejectUnauthorized: false,
      ALPNProtocols: [...ISTIO_ALPN],
      servername: '',
    })
    socket.on('error', () => undefined)
    const status = await new Promise<string | null>((resolve) => {
      socket.once('secureConnect', () => void rawGet(socket).then(resolve))
      socket.once('close', () => resolve(null))
    })
    t.equal(status, null, 'no HTTP answer for an unverified peer')
  })

  await t.test('PERMISSIVE: plaintext is accepted (and, without a peer identity, denied by the L7 policy)', async (t) => {
    const status = await rawGet(net.connect(9080, h.workload('reviews-v1').addresses[0]!))
    t.equal(status, 'HTTP/1.1 403 Forbidden')
  })

  await t.test('STRICT: plaintext is refused before any HTTP; mTLS from the client sidecar still passes', async (t) => {
    // A plaintext keep-alive connection admitted under PERMISSIVE…
    const kept = net.connect(9080, h.workload('reviews-v1').addresses[0]!)
    kept.on('error', () => undefined)
    let closed = false
    kept.on('close', () => {
      closed = true
    })
    const answered = new Promise<string>((resolve) => kept.once('data', (c: Buffer) => resolve(c.toString('latin1').split('\r\n')[0]!)))
    kept.write('GET /reviews/1 HTTP/1.1\r\nhost: reviews:9080\r\n\r\n')
    t.equal(await answered, 'HTTP/1.1 403 Forbidden', 'admitted under PERMISSIVE, kept alive')
    await h.writeFile(
      'peer-authentication.yaml',
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: default
spec:
  mtls:
    mode: STRICT
`,
    )
    await eventually(() => h.sidecars.get('reviews-v1')!.config().sidecar.peerAuthentication.length === 1)
    // … is closed when STRICT arrives (policy re-check of live connections).
    await eventually(() => closed)
    await t.resolves(h.log.waitFor((r) => r.event === 'inbound_closed' && r.msg === 'connection closed due to policy change'))
    const status = await rawGet(net.connect(9080, h.workload('reviews-v1').addresses[0]!))
    t.equal(status, null, 'closed without an answer')
    await t.resolves(h.log.waitFor((r) => r.event === 'inbound_refused' && r.code === 'SIDECAR_PLAINTEXT_REFUSED'))
    t.equal((await h.request()).status, 200)
  })
})
