// The outbound half of the HBONE pair: one local TCP listener per benchmark target (standing in for
// captured traffic to that destination); each accepted socket becomes a CONNECT through the project's
// HBONE pool to the server proxy, joined with the one pipe. A failed CONNECT resets the socket.
import { workloadCertificate } from '../../identity/certificate.js'
import { SpiffeId } from '../../identity/spiffe-id.js'
import { createHbonePool } from '../../hbone/pool.js'
import { pipe, reset } from '../../net/pipe.js'
import { createLogger } from '../../observability/logger.js'
import type { HboneClientProxyConfig } from './hbone-config.js'
import { serveWorker } from './ipc.js'
import { relayListeners } from './relay-listeners.js'

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
  const relays = await relayListeners(config.targets, (downstream, target) => {
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
  return {
    ports: relays.ports,
    async close() {
      await relays.close()
      await pool.close()
    },
  }
})
