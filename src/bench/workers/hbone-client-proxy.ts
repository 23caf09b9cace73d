// The outbound half of the HBONE pair: one local TCP listener per benchmark target (standing in for
// captured traffic to that destination); each accepted socket becomes a CONNECT through the project's
// HBONE pool to the server proxy, joined with the one pipe. A failed CONNECT resets the socket.
import type net from 'node:net'
import { workloadCertificate } from '../../identity/certificate.js'
import { SpiffeId } from '../../identity/spiffe-id.js'
import { createHbonePool } from '../../hbone/pool.js'
import { closeServer, createTcpServer, listen } from '../../net/listen.js'
import { pipe, reset } from '../../net/pipe.js'
import { createLogger } from '../../observability/logger.js'
import type { HboneClientProxyConfig } from './hbone-config.js'
import { serveWorker } from './ipc.js'

// Same as starting Node with --no-deprecation (and what `ambient ztunnel` processes should do): on
// Node 20 every ClientHttp2Session.request() binds an AsyncResource whose DEP0172 accessors are
// wrapped by util.deprecate (an ObjectSetPrototypeOf per call), unless deprecations are off. Measured
// in the client proxy under tunnel churn: ~7 % of its busy CPU (~12 µs per tunnel). Warnings only.
process.noDeprecation = true

serveWorker<HboneClientProxyConfig>(async (config) => {
  const certificate = workloadCertificate({
    keyPem: config.certificate.keyPem,
    chainPem: config.certificate.certChainPem,
    rootsPem: config.certificate.rootsPem,
  })
  const serverIdentity = SpiffeId.parse(config.serverIdentity)
  const pool = createHbonePool({ certificates: [certificate], logger: createLogger({ component: 'bench-hbone-client', level: 'error' }) })
  const servers: net.Server[] = []
  const sockets = new Set<net.Socket>()
  for (const target of config.targets) {
    const server = createTcpServer((downstream) => {
      sockets.add(downstream)
      downstream.once('close', () => sockets.delete(downstream))
      downstream.on('error', () => undefined) // the pipe reports errors once it is attached
      pool
        .open({
          source: certificate.identity,
          destination: config.server,
          expectedIdentities: [serverIdentity],
          authority: { ip: target.host, port: target.port },
          forwardedFor: { ip: downstream.remoteAddress ?? '127.0.0.1', port: downstream.remotePort ?? 0 },
        })
        .then(
          (tunnel) => void pipe(downstream, tunnel.stream).done,
          () => reset(downstream),
        )
    })
    await listen(server, { host: '127.0.0.1', port: 0 })
    servers.push(server)
  }
  return {
    ports: servers.map((s) => (s.address() as net.AddressInfo).port),
    async close() {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map(closeServer))
      await pool.close()
    },
  }
})
