// A builder for HBONE tests that reads like the path it checks: an echo target, an HBONE server in
// front of it (accepting by default, or deciding as the test says), a client pool, and an outbound
// TCP listener that does what ztunnel's outbound does (accept the app's socket, open a tunnel, pipe).
import type net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { ConnectRequest, HboneServer, HboneServerOptions } from '../../../src/hbone/server.js'
import { acceptPiped, createHboneServer } from '../../../src/hbone/server.js'
import type { HbonePool, HbonePoolOptions, Tunnel, TunnelRequest } from '../../../src/hbone/pool.js'
import { createHbonePool } from '../../../src/hbone/pool.js'
import type { ConnectOutcome } from '../../../src/hbone/status.js'
import type { WorkloadCertificate } from '../../../src/identity/certificate.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import type { PipeResult } from '../../../src/net/pipe.js'
import { pipe } from '../../../src/net/pipe.js'
import { closeServer, connectTcp, createTcpServer, listen } from '../../../src/net/listen.js'
import type { CapturingLogger } from '../../../src/observability/capturing-logger.js'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import type { EchoServer } from '../../helpers/echo-server.js'
import { startEchoServer } from '../../helpers/echo-server.js'
import type { TestPki } from '../../helpers/pki.js'
import { createTestPki } from '../../helpers/pki.js'

export interface Cleanup {
  teardown(fn: () => unknown): void
}

export const SERVER_ID = SpiffeId.parse('spiffe://cluster.local/ns/server/sa/server')
export const CLIENT_ID = SpiffeId.parse('spiffe://cluster.local/ns/client/sa/client')

export interface Fixture {
  readonly pki: TestPki
  readonly logs: CapturingLogger
  readonly echo: EchoServer
  readonly server: HboneServer
  readonly serverAddress: AddressInfo
  readonly serverCert: WorkloadCertificate
  readonly clientCert: WorkloadCertificate
  /** Every CONNECT that reached the decision callback. */
  readonly connects: ConnectRequest[]
  /** Every server-side pipe result. */
  readonly serverFlows: PipeResult[]
  /** Replace the server's decision. */
  decide: (request: ConnectRequest) => ConnectOutcome | Promise<ConnectOutcome>
  pool(options?: Partial<HbonePoolOptions>): HbonePool
  /** A tunnel request to the echo target through the fixture's server. */
  request(overrides?: Partial<TunnelRequest>): TunnelRequest
  /** An outbound listener: each accepted socket is tunnelled with `pool` and piped. */
  outbound(pool: HbonePool, overrides?: Partial<TunnelRequest>): Promise<{ port: number; flows: Array<Promise<PipeResult>> }>
  /** A TCP connection from an "app" to the outbound listener. */
  app(port: number): Promise<net.Socket>
}

export interface FixtureOptions {
  readonly server?: Partial<HboneServerOptions>
}

export async function hboneFixture(t: Cleanup, options: FixtureOptions = {}): Promise<Fixture> {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const [serverCert, clientCert] = await Promise.all([pki.issue(SERVER_ID), pki.issue(CLIENT_ID)])
  const logs = createCapturingLogger({ level: 'debug' })
  const echo = await startEchoServer()
  t.teardown(() => echo.close())
  const connects: ConnectRequest[] = []
  const serverFlows: PipeResult[] = []

  const accept = async (request: ConnectRequest): Promise<ConnectOutcome> => {
    try {
      const upstream = await connectTcp({ host: request.authority.ip, port: request.authority.port })
      return acceptPiped(upstream, (r) => serverFlows.push(r))
    } catch (err) {
      return { kind: 'unavailable', reason: (err as Error).message }
    }
  }

  const fixture: Fixture = {
    pki,
    logs,
    echo,
    serverCert,
    clientCert,
    connects,
    serverFlows,
    server: undefined as never,
    serverAddress: undefined as never,
    decide: accept,
    pool(poolOptions = {}) {
      const pool = createHbonePool({ certificates: [clientCert], logger: logs.logger, ...poolOptions })
      t.teardown(() => pool.close())
      return pool
    },
    request(overrides = {}) {
      return {
        source: CLIENT_ID,
        destination: { host: '127.0.0.1', port: fixture.serverAddress.port },
        expectedIdentities: [SERVER_ID],
        authority: { ip: '127.0.0.1', port: echo.port },
        ...overrides,
      }
    },
    async outbound(pool, overrides = {}) {
      const flows: Array<Promise<PipeResult>> = []
      const listener = createTcpServer((socket) => {
        socket.on('error', () => {})
        let resolveFlow!: (r: PipeResult) => void
        flows.push(
          new Promise((r) => {
            resolveFlow = r
          }),
        )
        pool.open(fixture.request(overrides)).then(
          (tunnel: Tunnel) => {
            void pipe(socket, tunnel.stream).done.then(resolveFlow)
          },
          (err: unknown) => {
            socket.resetAndDestroy()
            resolveFlow({ bytesSent: 0, bytesReceived: 0, error: err as never })
          },
        )
      })
      const { port } = await listen(listener, { host: '127.0.0.1', port: 0 })
      t.teardown(() => closeServer(listener))
      return { port, flows }
    },
    async app(port) {
      const socket = await connectTcp({ host: '127.0.0.1', port })
      socket.on('error', () => {})
      t.teardown(() => {
        socket.destroy()
      })
      return socket
    },
  }

  const server = createHboneServer({
    certificate: serverCert,
    host: '127.0.0.1',
    port: 0,
    logger: logs.logger,
    onConnect: (request) => {
      connects.push(request)
      return fixture.decide(request)
    },
    ...options.server,
  })
  const serverAddress = await server.start()
  t.teardown(() => server.close())
  Object.assign(fixture, { server, serverAddress })
  return fixture
}

/** Reads a socket or stream to its end; resolves with the bytes and how it ended. */
export function readAll(
  stream: NodeJS.ReadableStream & NodeJS.EventEmitter,
): Promise<{ data: Buffer; ending: 'end' | 'error'; error?: Error }> {
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  return new Promise((resolve) => {
    stream.once('end', () => resolve({ data: Buffer.concat(chunks), ending: 'end' }))
    stream.once('error', (error: Error) => resolve({ data: Buffer.concat(chunks), ending: 'error', error }))
  })
}

/**
 * A TCP relay between a client and the HBONE server that can stop forwarding (a peer gone silent),
 * and counts what the client sent (each PING is one TLS record: a clock for tests without sleeps).
 */
export async function freezableProxy(
  t: Cleanup,
  target: number,
): Promise<{ port: number; freeze(): void; cut(): void; chunksUp(): number }> {
  const sockets: net.Socket[] = []
  let chunksUp = 0
  const server = createTcpServer((downstream) => {
    downstream.on('error', () => {})
    sockets.push(downstream)
    void connectTcp({ host: '127.0.0.1', port: target }).then((upstream) => {
      sockets.push(upstream)
      pipe(downstream, upstream)
      downstream.on('data', () => {
        chunksUp++
      })
    })
  })
  const { port } = await listen(server, { host: '127.0.0.1', port: 0 })
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await closeServer(server)
  })
  return {
    port,
    freeze: () => {
      for (const s of sockets) s.pause()
    },
    // The TCP connection goes away under the session (FIN, no GOAWAY, no RST_STREAM), as when a
    // peer's process dies or its socket is destroyed before a reset is flushed.
    cut: () => {
      for (const s of sockets) s.destroy()
    },
    chunksUp: () => chunksUp,
  }
}
