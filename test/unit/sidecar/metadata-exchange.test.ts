// Istio's HTTP metadata exchange between sidecars: the header codec (base64 google.protobuf.Struct),
// the calling sidecar's headers, and the receiving sidecar reading them (and leaving them out of the app's headers). Bad input is
// ignored, never thrown; the certificate's identity and namespace always win over the headers.
import t from 'tap'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import type { SidecarConfig } from '../../../src/mesh/sidecar-config.js'
import { parseSidecarConfig } from '../../../src/sidecar/config.js'
import { appHeaders, metadataHeaders, selfPeer, sourceMetadata } from '../../../src/sidecar/metadata-exchange.js'
import { google } from '../../../src/xds/gen/messages.js'
import { sidecarConfigDoc } from '../../helpers/sidecar-config.js'
import { decodePeerMetadata, encodePeerMetadata, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER } from '../../../src/xds/peer-metadata.js'

const ID = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage'
const PEER = { workloadName: 'productpage-v1', canonicalName: 'productpage', canonicalRevision: 'v1', clusterId: 'Kubernetes' }
const doc = (peer?: unknown): Record<string, unknown> => sidecarConfigDoc({ identity: ID, pod: peer === undefined ? {} : { peer } })
const config = (peer?: unknown): SidecarConfig => parseSidecarConfig(JSON.stringify(doc(peer)))

t.test('codec: what is encoded decodes the same; Istio field names inside', async (t) => {
  const m = {
    name: 'p-1',
    namespace: 'ns',
    workloadName: 'p',
    clusterId: 'Kubernetes',
    labels: { app: 'p', 'service.istio.io/canonical-revision': 'v2' },
  }
  const value = encodePeerMetadata(m)
  t.same(decodePeerMetadata(value), m)
  const raw = google.protobuf.Struct.decode(Buffer.from(value, 'base64'))
  t.same(Object.keys(raw.fields ?? {}).sort(), ['CLUSTER_ID', 'LABELS', 'NAME', 'NAMESPACE', 'WORKLOAD_NAME'])
  t.same(decodePeerMetadata(encodePeerMetadata({ labels: { app: 'only-labels' } })), { labels: { app: 'only-labels' } })
})

t.test('codec: anything else is no metadata (never a throw)', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['absent', undefined],
    ['empty', ''],
    ['not base64', 'not base64!'],
    ['base64 of garbage bytes', Buffer.from([0xff, 0xff, 0xff, 0x01]).toString('base64')],
    [
      'a Struct with nothing we read',
      Buffer.from(google.protobuf.Struct.encode({ fields: { OTHER: { numberValue: 3 } } }).finish()).toString('base64'),
    ],
    ['too large', 'A'.repeat(20_000)],
  ]
  for (const [name, value] of cases) t.equal(decodePeerMetadata(value), undefined, name)
})

t.test(
  'selfPeer: the workload and canonical labels from the config (canonical names stand in for app and version); the pod name without them',
  async (t) => {
    const id = SpiffeId.parse(ID)
    t.match(selfPeer(config(PEER), '127.10.0.5:80', id), {
      workload: 'productpage-v1',
      canonicalService: 'productpage',
      canonicalRevision: 'v1',
      app: 'productpage',
      version: 'v1',
      cluster: 'Kubernetes',
      namespace: 'default',
    })
    const bare = selfPeer(config(), '127.10.0.5:80', id)
    t.equal(bare.workload, 'productpage-v1-abc')
    t.equal(bare.canonicalService, undefined)
  },
)

t.test('the caller adds two headers; the callee completes its source from them and removes them', async (t) => {
  const h = metadataHeaders(config(PEER))
  t.equal(h[PEER_METADATA_ID_HEADER], 'sidecar~127.10.0.5~productpage-v1-abc.default~default.svc.cluster.local')
  const c = config(PEER)
  t.equal(metadataHeaders(c), metadataHeaders(c), 'computed once per config')
  const incoming: Record<string, string | string[] | undefined> = { ...h, accept: '*/*' }
  const certified = { addr: '127.10.0.5:5555', identity: SpiffeId.parse(ID), namespace: 'default' }
  const src = sourceMetadata(incoming, certified)
  t.strictSame(appHeaders(incoming), { accept: '*/*' }, 'the app does not see the metadata headers')
  t.same(Object.keys(incoming).length, 3, 'the request itself is not changed (policies read it as it came)')
  t.match(src, {
    workload: 'productpage-v1',
    canonicalService: 'productpage',
    canonicalRevision: 'v1',
    app: 'productpage',
    version: 'v1',
    cluster: 'Kubernetes',
    namespace: 'default',
  })
  t.equal(src.identity, certified.identity)

  // The headers cannot change what the certificate proved.
  const lying = (): Record<string, string> => ({
    [PEER_METADATA_HEADER]: encodePeerMetadata({ namespace: 'kube-system', workloadName: 'x', labels: {} }),
  })
  t.equal(sourceMetadata(lying(), certified).namespace, 'default')
  // Plaintext callers (PERMISSIVE) have no certificate: the namespace comes from the headers.
  t.equal(sourceMetadata(lying(), { addr: '127.0.0.9:1' }).namespace, 'kube-system')
  // Malformed: left out all the same, the source stays as certified.
  const bad: Record<string, string | string[] | undefined> = { [PEER_METADATA_HEADER]: '%%%', [PEER_METADATA_ID_HEADER]: 'x' }
  t.same(sourceMetadata(bad, certified), certified)
  t.strictSame(appHeaders(bad), {})
  // Hop-by-hop and pseudo-headers are left out as for any forwarded request.
  t.strictSame(appHeaders({ ...h, ':path': '/', connection: 'x-a', 'x-a': '1', 'x-b': '2' }), { 'x-b': '2' })
})

t.test('one connection, many requests: the same base and header value give the same source object; another value a new one', async (t) => {
  const certified = { addr: '127.10.0.7:40000', identity: SpiffeId.parse(ID), namespace: 'default' }
  const headersFrom = (peer: unknown): Record<string, string | string[] | undefined> => ({
    ...metadataHeaders(config(peer)),
    accept: '*/*',
  })
  const first = headersFrom(PEER)
  const a = sourceMetadata(first, certified)
  const second = headersFrom(PEER)
  const b = sourceMetadata(second, certified)
  t.equal(b, a, 'the second request reports the same peer object as the first')
  t.strictSame(appHeaders(second), { accept: '*/*' }, 'the headers are left out on every request')
  t.equal(b.workload, 'productpage-v1')
  // The caller's metadata changed (a new config on its side): the new labels, not the remembered ones.
  const c = sourceMetadata(headersFrom({ ...PEER, workloadName: 'productpage-v2', canonicalRevision: 'v2' }), certified)
  t.not(c, a)
  t.match(c, { workload: 'productpage-v2', canonicalRevision: 'v2', version: 'v2', identity: certified.identity })
  // Another connection (another base) with the same value: its own peer, with its own address.
  const other = { ...certified, addr: '127.10.0.7:40001' }
  const d = sourceMetadata(headersFrom(PEER), other)
  t.not(d, a)
  t.equal(d.addr, '127.10.0.7:40001')
  t.equal(d.workload, 'productpage-v1')
  // No header: the base itself.
  t.equal(sourceMetadata({ accept: '*/*' }, certified), certified)
})

t.test('a sidecar config with malformed peer metadata is refused with its path', async (t) => {
  t.throws(() => config('yes'), { code: 'SIDECAR_CONFIG_INVALID', message: /sidecar\.pod\.peer: expected an object/ })
  t.throws(() => config({ ...PEER, canonicalName: 3 }), { code: 'SIDECAR_CONFIG_INVALID', message: /sidecar\.pod\.peer\.canonicalName/ })
  t.throws(() => config({ workloadName: 'w', canonicalName: 'w', canonicalRevision: 'latest' }), {
    code: 'SIDECAR_CONFIG_INVALID',
    message: /sidecar\.pod\.peer\.clusterId/,
  })
  t.doesNotThrow(() => config(), 'no peer metadata at all is accepted (a hand-written config)')
})
