// ztunnel's handoff to a waypoint, end to end with istiod: the waypoint takes its config and
// certificate from istiod (xDS + CA), the client's ztunnel sends reviews traffic to it over HBONE,
// and it re-originates HBONE to a reviews pod as itself.
import t from 'tap'
import { waypointCommand } from '../../../src/cli/commands/waypoint.js'
import { WAYPOINT_CONFIG_API_VERSION, type WaypointConfig } from '../../../src/mesh/waypoint-config.js'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { xdsConfigSource } from '../../../src/waypoint/xds-config-source.js'
import { TYPE_URL, encodeWaypointConfig } from '../../../src/xds/convert.js'
import { createDeltaAdsServer } from '../../../src/xds/delta-server.js'
import { ambient } from '../../../src/xds/gen/messages.js'
import { startGrpcServer } from '../../../src/xds/grpc-server.js'
import { versioned, type ResourceProvider, type VersionedResource } from '../../../src/xds/resource-provider.js'
import { createTestPki } from '../../helpers/pki.js'
import { eventually } from '../../helpers/eventually.js'
import { CLIENT_ID, REVIEWS_HOST, WAYPOINT_ID, startWaypointIstiodMesh } from '../../helpers/waypoint-istiod-mesh.js'

t.test('client → ztunnel → waypoint (from istiod) → ztunnel → reviews', async (t) => {
  const h = await startWaypointIstiodMesh(t)
  await h.mesh.converged()

  await t.test('no waypoint running: requests to reviews fail closed, never bypass it', async (t) => {
    const err = await h.request().then(
      () => undefined,
      (e: unknown) => e,
    )
    t.type(err, Error, `refused: ${String(err)}`)
    t.equal(h.seen.get('reviews-v1')!.length + h.seen.get('reviews-v2')!.length, 0, 'no reviews pod saw a request')
  })

  await t.test('the waypoint starts from istiod: config over xDS, identity from the CA, on its pod IP', async (t) => {
    const wp = await h.startWaypoint()
    t.equal(wp.host, h.waypointPodIp, 'listens on the pod IP istiod gave the waypoint')
    t.equal(wp.identity.toString(), WAYPOINT_ID)
    t.equal(wp.config().services[0]?.hostname, REVIEWS_HOST)
    t.same(wp.waypoint.pending(), [], 'ready')
    const signed = await h.mesh.log.waitFor((r) => r.event === 'ca_signed' && r.identity === WAYPOINT_ID)
    t.equal(signed.caller, h.waypointNode, "signed for the waypoint pod's node")
    t.equal(wp.source.status().state, 'connected')
  })

  await t.test("GET passes; reviews' ztunnel sees the waypoint as the source", async (t) => {
    const r = await h.request()
    t.equal(r.status, 200, r.body)
    t.match(JSON.parse(r.body), { pod: /^reviews-v[12]$/ })
    t.equal(h.seen.get('reviews-v1')!.length + h.seen.get('reviews-v2')!.length, 1, 'one reviews pod saw it')
    // reviews' ztunnel logs a connection when it closes; the waypoint pools its tunnels, so its
    // `src.identity` is checked once the waypoint is stopped (last subtest).
  })

  await t.test('POST is denied by the L7 policy at the waypoint', async (t) => {
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
    const metrics = await h.metrics.render()
    t.match(
      metrics,
      /istio_requests_total\{[^}]*reporter="waypoint"[^}]*destination_service="reviews\.default\.svc\.cluster\.local"[^}]*response_code="200"/,
    )
  })

  await t.test('istiod away: the waypoint keeps its last config and serves; it reconnects when istiod is back', async (t) => {
    const wp = h.waypoint!
    const connects = wp.source.status().stats.connects
    await h.mesh.stopIstiod()
    await eventually(() => wp.source.status().state !== 'connected')
    t.equal((await h.request()).status, 200, 'GET still passes')
    t.equal((await h.request({ method: 'POST' })).status, 403, 'POST still denied')
    await h.mesh.startIstiod()
    await eventually(() => wp.source.status().state === 'connected' && wp.source.status().stats.connects > connects, { timeoutMs: 10_000 })
    t.equal(wp.source.status().stats.nacks, 0, 'nothing refused')
    t.equal((await h.request()).status, 200)
  })

  await t.test('going around the waypoint to a pod IP is refused at L4 (the client is not the waypoint)', async (t) => {
    const err = await h.mesh.dial('client', { ip: h.mesh.podIp('reviews-v1'), port: 9080 }).then(
      async (s) => {
        // Denial may come as a refused CONNECT or a closed stream.
        s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n')
        return await new Promise<unknown>((resolve) => {
          s.once('data', () => resolve(undefined))
          s.once('close', () => resolve(new Error('closed')))
          s.once('error', (e) => resolve(e))
        })
      },
      (e: unknown) => e,
    )
    t.type(err, Error, `refused: ${String(err)}`)
  })

  await t.test('waypoint stopped: requests fail closed and do not bypass it', async (t) => {
    await h.stopWaypoint()
    const before = h.seen.get('reviews-v1')!.length + h.seen.get('reviews-v2')!.length
    for (let i = 0; i < 5; i++) {
      const err = await h.request().then(
        (r) => new Error(`unexpected ${r.status}`),
        (e: unknown) => e,
      )
      t.type(err, Error)
      t.notMatch(String(err), /unexpected/, String(err))
    }
    t.equal(h.seen.get('reviews-v1')!.length + h.seen.get('reviews-v2')!.length, before, 'reviews saw nothing')
    await eventually(() =>
      h.mesh.log.records.some(
        (r) => r.msg === 'connection complete' && r.node === 'node-1' && typeof r.error === 'string' && r.error !== '',
      ),
    )
  })

  await t.test("reviews' ztunnel saw the waypoint as the source of every admitted connection", async (t) => {
    // The waypoint's pooled tunnels closed (reset) with it, so reviews' ztunnel has logged them.
    const inbound = await eventually(() => {
      const recs = h.mesh.accessLogs((r) => r.direction === 'inbound' && r.node === 'node-2' && !/policy/.test(String(r.error)))
      return recs.length > 0 ? recs : false
    })
    t.same([...new Set(inbound.map((r) => r['src.identity']))], [WAYPOINT_ID], `src.identity of ${inbound.length} connection(s)`)
    const denied = h.mesh.accessLogs((r) => r.direction === 'inbound' && r.node === 'node-2' && /policy/.test(String(r.error)))
    t.ok(
      denied.some((r) => r['src.identity'] === CLIENT_ID),
      'the one that went around the waypoint came as the client, and was denied',
    )
  })

  await t.test('`ambient waypoint --xds … --istiod-state-dir … --node …` serves again, on the pod IP from istiod', async (t) => {
    let stop: (why: string) => void = () => undefined
    const stopSignal = new Promise<string>((resolve) => {
      stop = resolve
    })
    const out: string[] = []
    const exit = waypointCommand(
      [
        '--name',
        'waypoint',
        '--namespace',
        'default',
        '--xds',
        h.mesh.istiod.addresses.grpc,
        '--istiod-state-dir',
        h.mesh.stateDir,
        '--node',
        h.waypointNode,
        '--metrics-port',
        '0',
        '--readiness-port',
        '0',
        '--sync-timeout',
        '10s',
        '--log-level',
        'error',
      ],
      { stdout: (x) => out.push(x), stderr: (x) => out.push(x), env: {}, cwd: process.cwd(), stopSignal },
    )
    let code: number | undefined
    const failed = exit.then(
      (c) => {
        code = c
      },
      (err: unknown) => {
        throw err
      },
    )
    t.teardown(async () => {
      stop('teardown')
      await failed.catch(() => undefined)
    })
    const r = await eventually(
      async () => {
        if (code !== undefined) throw new Error(`the command exited with ${code}: ${out.join('')}`)
        return await h.request().catch(() => false as const)
      },
      { timeoutMs: 10_000 },
    )
    t.equal(r.status, 200, 'GET through the CLI-started waypoint')
    t.equal((await h.request({ method: 'POST' })).status, 403)
    stop('SIGTERM')
    t.equal(await exit, 0, 'exits 0 on a stop signal')
  })
})

t.test('the xDS config source: only its own resource, NACKs what it does not understand, keeps the last config', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const istiodId = 'spiffe://cluster.local/ns/istio-system/sa/istiod'
  const cert = await pki.issue(istiodId)
  const providers = { address: new Map<string, VersionedResource>(), waypoint: new Map<string, VersionedResource>() }
  const provider = (typeUrl: string, items: Map<string, VersionedResource>): ResourceProvider => ({ typeUrl, resources: () => items })
  const ads = createDeltaAdsServer({
    providers: [provider(TYPE_URL.address, providers.address), provider(TYPE_URL.waypointConfig, providers.waypoint)],
    authenticate: (tok) => (tok === 'tok' ? 'node-1' : undefined),
  })
  const grpc = await startGrpcServer({
    port: 0,
    tls: { rootCertPem: pki.rootPem, certChainPem: cert.certChainPem.join(''), keyPem: cert.keyPem },
    services: [ads.service],
    shutdownGraceMs: 100,
  })
  t.teardown(() => grpc.close())
  const doc = (apiVersion: string, hbonePort = 15008): Record<string, unknown> => ({
    apiVersion,
    name: 'waypoint',
    namespace: 'default',
    identity: WAYPOINT_ID,
    trustDomain: 'cluster.local',
    waypointFor: 'service',
    hbonePort,
    services: [],
    workloads: [],
    clusters: [],
    authorization: [],
    defaults: { retries: null, connectTimeoutMs: 10_000 },
  })
  const put = (name: string, bytes: Uint8Array): void => {
    providers.waypoint.set(name, versioned(bytes))
  }
  put('default/waypoint', encodeWaypointConfig({ name: 'waypoint', namespace: 'default', document: doc(WAYPOINT_CONFIG_API_VERSION) }))
  // Another waypoint's resource that is not even JSON: none of this waypoint's business.
  put('default/other', ambient.waypoint.v1.WaypointConfig.encode({ name: 'other', namespace: 'default', json: '{not json' }).finish())

  const log = createCapturingLogger({ level: 'debug', component: 'waypoint' })
  const source = xdsConfigSource({
    target: grpc.target,
    tls: { rootCertPem: pki.rootPem, serverIdentity: istiodId },
    token: 'tok',
    nodeId: 'node-1',
    name: 'waypoint',
    namespace: 'default',
    logger: log.logger,
    backoff: { initialMs: 10, maxMs: 100 },
    initialTimeoutMs: 5_000,
  })
  t.teardown(() => source.close())
  const delivered: WaypointConfig[] = []
  await source.start((c) => delivered.push(c))
  t.equal(delivered.length, 1, 'its own config, despite the other one')
  t.equal(delivered[0]!.hbonePort, 15008)
  t.equal(ads.status().nacks.length, 0, 'nothing NACKed')
  t.equal(source.pod(), undefined, 'no Address for its pod: the caller must give the host')

  put('default/waypoint', encodeWaypointConfig({ name: 'waypoint', namespace: 'default', document: doc('ambient.waypoint/v9', 15009) }))
  ads.push()
  const nack = await eventually(() => ads.status().nacks.find((n) => n.typeUrl === TYPE_URL.waypointConfig) ?? false)
  t.match(
    nack.reason,
    /apiVersion: expected "ambient\.waypoint\/v1", got "ambient\.waypoint\/v9"/,
    'an unknown apiVersion is NACKed with the reason',
  )
  t.match(source.status().lastRejection, /apiVersion/)
  t.equal(delivered.length, 1, 'the refused config was not delivered')

  put(
    'default/waypoint',
    encodeWaypointConfig({ name: 'waypoint', namespace: 'default', document: doc(WAYPOINT_CONFIG_API_VERSION, 15010) }),
  )
  ads.push()
  await eventually(() => delivered.length === 2)
  t.equal(delivered[1]!.hbonePort, 15010, 'a good config afterwards is taken')
  t.equal(source.status().lastRejection, undefined)

  await grpc.close()
  await eventually(() => source.status().state !== 'connected')
  t.equal(delivered.length, 2, 'istiod away: nothing changes, the last config stays')
  t.equal(source.status().loaded, true)
})
