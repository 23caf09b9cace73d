// The server pods' application for `ambient compare`, as one process: the same 1 KiB HTTP/1.1
// keep-alive answer as workers/http-server.ts, bound on every server pod's address at once (a sweep
// to 16 pods per node would otherwise need 32 app processes, which would measure the apps).
import http from 'node:http'
import type net from 'node:net'
import { closeServer, listen } from '../../net/listen.js'
import { serveWorker } from './ipc.js'

export interface CompareAppsConfig {
  hosts: string[]
  /** In-pod capture: the network namespace of each host (same order), where its listener is made (root). */
  netns?: string[]
  port: number
  bodyBytes: number
}

/** A listening socket made inside a pod's namespace (the addon, loaded only in this case). */
async function listenInPod(netns: string, host: string, port: number): Promise<number> {
  const { loadCaptureAddon, netnsPath } = await import('../../capture/inpod/addon.js')
  return loadCaptureAddon().listenTcp(netnsPath(netns), host, port, 511, false)
}

serveWorker<CompareAppsConfig>(async (config) => {
  const body = Buffer.alloc(config.bodyBytes, 0x78)
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }
  const sockets = new Set<net.Socket>()
  const servers: http.Server[] = []
  const ports: number[] = []
  try {
    for (const [i, host] of config.hosts.entries()) {
      const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
        req.resume()
        res.writeHead(200, headers)
        res.end(body)
      })
      server.keepAliveTimeout = 120_000
      server.headersTimeout = 130_000
      server.requestTimeout = 0
      server.on('connection', (s: net.Socket) => {
        sockets.add(s)
        s.once('close', () => sockets.delete(s))
        s.on('error', () => s.destroy())
      })
      servers.push(server)
      const netns = config.netns?.[i]
      const fd = netns === undefined ? undefined : await listenInPod(netns, host, config.port)
      ports.push((await listen(server, { host, port: config.port, ...(fd === undefined ? {} : { fd }) })).port)
    }
  } catch (err) {
    await Promise.allSettled(servers.map((s) => closeServer(s)))
    throw err
  }
  return {
    ports,
    async close() {
      for (const s of sockets) s.destroy()
      await Promise.allSettled(servers.map((s) => closeServer(s)))
    },
  }
})
