// The server pods' application for `ambient compare`, as one process: the same 1 KiB HTTP/1.1
// keep-alive answer as workers/http-server.ts, bound on every server pod's address at once (a sweep
// to 16 pods per node would otherwise need 32 app processes, which would measure the apps).
import type http from 'node:http'
import { closeServer, listen } from '../../net/listen.js'
import { appServer, openSockets } from './app-server.js'
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
  const sockets = openSockets()
  const servers: http.Server[] = []
  const ports: number[] = []
  try {
    for (const [i, host] of config.hosts.entries()) {
      const server = appServer(config.bodyBytes, sockets)
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
      sockets.destroyAll()
      await Promise.allSettled(servers.map((s) => closeServer(s)))
    },
  }
})
