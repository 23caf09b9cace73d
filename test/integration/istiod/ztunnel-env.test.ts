// `ambient ztunnel` started the way Istio's ztunnel chart starts ztunnel: no CLI flags, only the
// environment (NODE_NAME, INSTANCE_IP, POD_NAME, POD_NAMESPACE, CLUSTER_ID, XDS_ADDRESS,
// CA_ADDRESS, XDS_ROOT_CA, ISTIO_META_*, and the token file). It must reach our istiod, introduce
// itself with Istio's node id, metadata and clusterid header, sync, and become ready. With INPOD_UDS
// set it connects to istio-cni's ZDS socket (a test peer, python3, plays istio-cni: hello, snapshot).
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { cliEntry as CLI, distDir as DIST } from '../../helpers/run-cli.js'
import { startIstiod } from '../../../src/istiod/istiod.js'
import { createLogger } from '../../../src/observability/logger.js'
import { eventually } from '../../helpers/eventually.js'
import { needs } from '../../helpers/requires.js'
import { startZdsPeer, type ZdsPeer } from '../../helpers/zds-peer.js'

const built = existsSync(join(DIST, 'cli/ztunnel-env.js'))
const X = randomInt(20, 90) * 2 + 1

t.test(
  "ambient ztunnel with environment only, as Istio's chart starts it",
  { timeout: 60_000, skip: built ? false : `${CLI} lacks the env mode: run npm run build` },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ambient-ztunnel-env-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    await mkdir(join(dir, 'config'))
    const istiod = await startIstiod({
      configDir: join(dir, 'config'),
      stateDir: join(dir, 'state'),
      nodes: 1,
      ports: { grpc: 0, debug: 0 },
      logger: createLogger({ component: 'istiod', level: 'silent' }),
    })
    t.teardown(() => istiod.close())
    const ip = `127.${X}.0.1`
    const env = {
      PATH: process.env.PATH ?? '',
      AMBIENT_LOG_LEVEL: 'info',
      NODE_NAME: 'node-1',
      INSTANCE_IP: ip,
      POD_NAME: 'ztunnel-q8r2m',
      POD_NAMESPACE: 'istio-system',
      CLUSTER_ID: 'Kubernetes',
      XDS_ADDRESS: `https://${istiod.addresses.grpc}`,
      CA_ADDRESS: istiod.addresses.grpc,
      XDS_ROOT_CA: join(dir, 'state/ca/root-cert.pem'),
      AMBIENT_TOKEN_FILE: join(dir, 'state/tokens/node-1.token'),
      ISTIO_META_ENABLE_HBONE: 'true',
      INPOD_UDS: join(dir, 'ztunnel.sock'),
    }
    // istio-cni's side, when python3 can play it (a missing python3 only drops the ZDS assertions).
    const peer: ZdsPeer | undefined = needs.tool('python3').missing() === undefined ? startZdsPeer(t) : undefined
    await peer?.listen(env.INPOD_UDS)
    const proc = spawn(process.execPath, [CLI, 'ztunnel'], { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    proc.stderr.on('data', (c: Buffer) => {
      out += c.toString()
    })
    t.teardown(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    })

    const conn = await eventually(
      () => {
        if (proc.exitCode !== null) throw new Error(`ztunnel exited: ${out}`)
        return istiod.status().connections[0] ?? false
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    )
    t.equal(conn.nodeName, 'node-1', 'authenticated by the token file')
    t.equal(conn.nodeId, `ztunnel~${ip}~ztunnel-q8r2m.istio-system~istio-system.svc.cluster.local`)
    t.equal(conn.clusterId, 'Kubernetes')
    t.match(conn.nodeMetadata, {
      NAME: 'ztunnel-q8r2m',
      NAMESPACE: 'istio-system',
      INSTANCE_IPS: ip,
      NODE_NAME: 'node-1',
      CLUSTER_ID: 'Kubernetes',
      ENABLE_HBONE: 'true',
    })
    await eventually(
      async () => {
        if (proc.exitCode !== null) throw new Error(`ztunnel exited: ${out}`)
        return (await fetch(`http://${ip}:15021/healthz/ready`)).status === 200
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    t.pass('ready on INSTANCE_IP:15021')
    if (peer !== undefined) {
      t.equal(await peer.accept(), 1, 'connected to INPOD_UDS and said ZdsHello{V1}')
      t.equal(await peer.request({ snapshotSent: {} }), '', 'the snapshot marker is acked')
    } else t.comment('python3 missing: the ZDS connection is not checked')
    proc.kill('SIGTERM')
    await eventually(() => proc.exitCode !== null || proc.signalCode !== null, { timeoutMs: 10_000, intervalMs: 50 })
    t.equal(proc.exitCode, 0, 'exits cleanly on SIGTERM')
  },
)
