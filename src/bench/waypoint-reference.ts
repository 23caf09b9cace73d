// `bench:waypoint`'s reference L7 path (issue 14): load generator → the reference HBONE client
// (workers/hbone-reference.ts, client role) → the reference L7 hop (workers/l7-reference.ts) → the
// reference HBONE server (server role) → the app no mesh reaches. Three processes of node:net/tls/http2
// only, with certificates from their own mesh CA; the HBONE pair runs with the ztunnels' Node flags,
// the hop with the waypoint's flags and environment (L7_PROXY_NODE_FLAGS, L7_PROXY_ENV), plus the
// run's --proxy-node-flags, so that ours ÷ reference compares code, not process settings. Measured by
// compare's interleaved rounds as an extra path (compare-extra.ts).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openMeshCa } from '../identity/ca.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import { HBONE_PROCESS_NODE_FLAGS } from '../hbone/settings.js'
import { L7_PROXY_ENV, L7_PROXY_NODE_FLAGS } from '../l7-proxy-process.js'
import { startWorker } from './workers/ipc.js'
import type { WorkerHandle } from './workers/ipc.js'
import type { SerializedCertificate } from './workers/hbone-config.js'
import type { HboneReferenceConfig } from './workers/hbone-reference.js'
import type { L7ReferenceConfig } from './workers/l7-reference-proxy.js'
import type { ExtraPath, ExtraPathContext, StartedExtraPath } from './compare-extra.js'
import { REFERENCE_L7, REFERENCE_WAYPOINT_ROLE } from './waypoint-summary.js'

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url))

async function start(ctx: ExtraPathContext): Promise<StartedExtraPath> {
  const ca = await openMeshCa({ dir: path.join(ctx.dir, 'ca') })
  const issue = async (serviceAccount: string): Promise<{ cert: SerializedCertificate; uri: string }> => {
    const id = SpiffeId.of({ namespace: 'bench', serviceAccount })
    const c = await ca.issue(id)
    return { cert: { keyPem: c.keyPem, certChainPem: [...c.certChainPem], rootsPem: [...c.rootsPem] }, uri: id.toString() }
  }
  const [client, hop, server] = await Promise.all([issue('reference-client'), issue('reference-waypoint'), issue('reference-server')])
  // Port 0 on the app's own address (the run's random pod-local range).
  const host = ctx.app.host
  const target = ctx.app
  const hboneFlags = [...HBONE_PROCESS_NODE_FLAGS, ...ctx.proxyNodeFlags]
  const hboneFile = here('./workers/hbone-reference.js')
  const workers: WorkerHandle[] = []
  const stopAll = async (): Promise<void> => {
    await Promise.all(workers.splice(0).map((w) => w.stop()))
  }
  try {
    const serverW = await startWorker<HboneReferenceConfig>(
      'reference HBONE server',
      hboneFile,
      { role: 'server', host, certificate: server.cert, allowedTargets: [target] },
      { nodeFlags: hboneFlags },
    )
    workers.push(serverW)
    const hopW = await startWorker<L7ReferenceConfig>(
      'reference L7 hop',
      here('./workers/l7-reference.js'),
      { host, certificate: hop.cert, upstream: { host, port: serverW.ports[0]! }, upstreamUri: server.uri, target },
      // As the cluster runner gives the waypoint: an explicitly set variable of ours wins.
      { nodeFlags: [...L7_PROXY_NODE_FLAGS, ...ctx.proxyNodeFlags], env: { ...L7_PROXY_ENV, ...process.env } },
    )
    workers.push(hopW)
    const clientW = await startWorker<HboneReferenceConfig>(
      'reference HBONE client',
      hboneFile,
      { role: 'client', host, certificate: client.cert, server: { host, port: hopW.ports[0]! }, serverUri: hop.uri, target },
      { nodeFlags: hboneFlags },
    )
    workers.push(clientW)
    ctx.log(
      `reference L7 path: HBONE client ${host}:${clientW.ports[0]} (pid ${clientW.pid}) → L7 hop :${hopW.ports[0]} (pid ${hopW.pid}) ` +
        `→ HBONE server :${serverW.ports[0]} (pid ${serverW.pid}) → app ${target.host}:${target.port}`,
    )
    return {
      route: { kind: 'direct', host, port: clientW.ports[0]! },
      processes: [
        { role: 'reference client', name: 'reference HBONE client', pid: clientW.pid },
        { role: REFERENCE_WAYPOINT_ROLE, name: 'reference L7 hop', pid: hopW.pid },
        { role: 'reference server', name: 'reference HBONE server', pid: serverW.pid },
      ],
      close: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}

export const referenceL7Path: ExtraPath = {
  name: REFERENCE_L7,
  label: 'reference L7',
  method:
    "load generator → reference HBONE client → reference L7 hop → reference HBONE server → no mesh's app (src/bench/workers/hbone-reference.ts, " +
    'l7-reference-proxy.ts: node:net/tls/http2 only; the hop scans each HTTP/1.1 head for Content-Length and forwards the bytes unchanged on a ' +
    "pooled keep-alive CONNECT stream over one TLS 1.3 + h2 session; Nagle off, 4 MiB windows; the HBONE pair with the ztunnels' Node flags, " +
    "the hop with the waypoint's flags and environment; pinned with the mesh); ours ÷ reference CPU per request is printed per round",
  start,
}
