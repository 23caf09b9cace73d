// The inbound half of the HBONE pair: the project's HBONE server (mTLS, HTTP/2 CONNECT) whose
// CONNECT handler connects to the named target and pipes the tunnel to it (acceptPiped) with the
// one pipe. Only the targets the benchmark names may be reached.
import { workloadCertificate } from '../../identity/certificate.js'
import { acceptPiped, createHboneServer } from '../../hbone/server.js'
import { connectTcp } from '../../net/listen.js'
import { createLogger } from '../../observability/logger.js'
import type { HboneServerProxyConfig } from './hbone-config.js'
import { serveWorker } from './ipc.js'

serveWorker<HboneServerProxyConfig>(async (config) => {
  const certificate = workloadCertificate({
    keyPem: config.certificate.keyPem,
    chainPem: config.certificate.certChainPem,
    rootsPem: config.certificate.rootsPem,
  })
  const allowed = new Set(config.allowedTargets.map((t) => `${t.host}:${t.port}`))
  const server = createHboneServer({
    certificate,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger({ component: 'bench-hbone-server', level: 'error' }),
    async onConnect({ authority }) {
      if (!allowed.has(`${authority.ip}:${authority.port}`))
        return { kind: 'unavailable', reason: `${authority.ip}:${authority.port} is not a benchmark target` }
      try {
        const upstream = await connectTcp({ host: authority.ip, port: authority.port, connectTimeoutMs: 5000 })
        return acceptPiped(upstream)
      } catch (err) {
        return { kind: 'unavailable', reason: err instanceof Error ? err.message : String(err) }
      }
    },
  })
  const address = await server.start()
  return { ports: [address.port], close: () => server.close() }
})
