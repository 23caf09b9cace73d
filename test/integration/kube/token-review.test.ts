// TokenReview authentication against the fake API server: ztunnel's service account acts for its
// node, a waypoint's only for itself; a token bound to a pod without a node claim finds the node
// through the pod; tokens that are not service accounts', or not bound, are refused; results are
// cached per token.
import t from 'tap'
import { KubeClient } from '../../../src/kube/client.js'
import { createTokenReviewAuthenticator, parseCaller } from '../../../src/istiod/kube/token-review.js'
import { startFakeKubeApiServer } from '../../helpers/fake-kube-apiserver.js'

t.test('TokenReview → caller', async (t) => {
  const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
  t.teardown(() => api.close())
  const pod = api.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'reviews-waypoint-x1', namespace: 'default' },
    spec: { nodeName: 'w2', containers: [] },
  })
  api.addToken('zt', {
    username: 'system:serviceaccount:istio-system:ztunnel',
    audiences: ['istio-ca'],
    extra: { 'authentication.kubernetes.io/node-name': ['w1'] },
  })
  api.addToken('wp', {
    username: 'system:serviceaccount:default:reviews-waypoint',
    audiences: ['istio-ca'],
    extra: { 'authentication.kubernetes.io/pod-name': ['reviews-waypoint-x1'] },
  })
  api.addToken('user', { username: 'alice', audiences: ['istio-ca'] })
  api.addToken('unbound', { username: 'system:serviceaccount:default:x', audiences: ['istio-ca'] })
  const auth = createTokenReviewAuthenticator({ client: new KubeClient({ server: api.url }), pods: () => [pod] })
  t.equal(await auth('zt'), 'w1', 'ztunnel acts for its node')
  const wp = await auth('wp')
  t.same(
    parseCaller(wp!),
    { kind: 'workload', namespace: 'default', serviceAccount: 'reviews-waypoint', node: 'w2' },
    "a waypoint is itself, on its pod's node",
  )
  t.equal(await auth('user'), undefined, 'not a service account')
  t.equal(await auth('unbound'), undefined, 'not bound to a pod on a node')
  t.equal(await auth('nonsense'), undefined, 'unknown token')
  const reviews = api.requests.filter((r) => r.includes('tokenreviews')).length
  await auth('zt')
  t.equal(api.requests.filter((r) => r.includes('tokenreviews')).length, reviews, 'cached')
  t.same(parseCaller('node-1'), { kind: 'node', node: 'node-1' })
})
