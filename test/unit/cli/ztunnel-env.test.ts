// `ambient ztunnel` from Istio's chart environment: defaults as Istio's ztunnel has them (its
// config.rs), the node id and metadata it sends, and refusals for what it cannot run without.
import t from 'tap'
import { ISTIO_PATHS, hasZtunnelEnv, ztunnelFromEnv } from '../../../src/cli/ztunnel-env.js'

t.test("minimal environment: Istio's defaults", async (t) => {
  const c = ztunnelFromEnv({ NODE_NAME: 'n1', INSTANCE_IP: '10.0.0.7' })
  t.equal(c.node, 'n1')
  t.equal(c.nodeIp, '10.0.0.7')
  t.match(c.xds, {
    target: 'localhost:15012',
    caTarget: 'localhost:15012',
    serverIdentity: 'localhost',
    rootCertFile: ISTIO_PATHS.rootCert,
    caRootCertFile: ISTIO_PATHS.rootCert,
    tokenFile: ISTIO_PATHS.token,
    clusterId: 'Kubernetes',
    nodeId: 'ztunnel~10.0.0.7~ztunnel.istio-system~istio-system.svc.cluster.local',
  })
  t.equal(c.inpodUds, '/var/run/ztunnel/ztunnel.sock')
  t.equal(c.inpodEnabled, false, 'no INPOD_UDS, no INPOD_ENABLED: no ZDS')
  t.equal(ztunnelFromEnv({ NODE_NAME: 'n1', INSTANCE_IP: '10.0.0.7', INPOD_ENABLED: 'true' }).inpodEnabled, true)
  t.match(ztunnelFromEnv({ NODE_NAME: 'n1', INSTANCE_IP: '10.0.0.7', INPOD_UDS: '/x/z.sock' }), {
    inpodUds: '/x/z.sock',
    inpodEnabled: true,
  })
  t.equal(
    ztunnelFromEnv({ NODE_NAME: 'n1', INSTANCE_IP: '10.0.0.7', KUBERNETES_SERVICE_HOST: '10.96.0.1' }).xds.target,
    'istiod.istio-system.svc:15012',
  )
})

t.test("the chart's environment", async (t) => {
  const c = ztunnelFromEnv({
    NODE_NAME: 'n1',
    INSTANCE_IP: 'fd00::7',
    POD_NAME: 'ztunnel-abc',
    POD_NAMESPACE: 'kube-system',
    CLUSTER_ID: 'east',
    CLUSTER_DOMAIN: 'corp.local',
    XDS_ADDRESS: 'istiod.istio-system.svc:15012',
    CA_ADDRESS: 'https://istiod-ca.istio-system.svc:15012',
    XDS_ROOT_CA: '/x/root.pem',
    CA_ROOT_CA: '/y/root.pem',
    ISTIO_META_DNS_CAPTURE: 'true',
    ISTIO_META_: 'ignored',
  })
  t.match(c.xds, {
    target: 'istiod.istio-system.svc:15012',
    serverIdentity: 'istiod.istio-system.svc',
    caTarget: 'istiod-ca.istio-system.svc:15012',
    rootCertFile: '/x/root.pem',
    caRootCertFile: '/y/root.pem',
    clusterId: 'east',
    nodeId: 'ztunnel~fd00::7~ztunnel-abc.kube-system~kube-system.svc.corp.local',
  })
  t.same(c.xds.nodeMetadata, {
    DNS_CAPTURE: 'true',
    NAME: 'ztunnel-abc',
    NAMESPACE: 'kube-system',
    INSTANCE_IPS: 'fd00::7',
    NODE_NAME: 'n1',
    CLUSTER_ID: 'east',
  })
})

t.test('what it cannot run without is refused', async (t) => {
  t.notOk(hasZtunnelEnv({ NODE_NAME: 'n1' }))
  t.throws(() => ztunnelFromEnv({ NODE_NAME: 'n1', INSTANCE_IP: 'nope' }), { code: 'CLI_USAGE' })
  t.throws(() => ztunnelFromEnv({ NODE_NAME: 'n1', INSTANCE_IP: '10.0.0.1', XDS_ADDRESS: 'no-port' }), { code: 'CLI_USAGE' })
})
