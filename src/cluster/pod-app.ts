// One pod's containers, run in this process (`ambient app`, started by the cluster runner): each
// container's image picks a sample app, which serves its ports on the pod-local address. An idle
// image (curl, sleep) serves nothing: the pod exists for `ambient exec`.
import { appForImage, requireAppForImage } from './sample-apps/registry.js'
import type { PodIdentity, RunningApp } from './sample-apps/sample-app.js'
import { serveApp } from './sample-apps/sample-app.js'
import type { SocksProxy } from './sample-apps/http-client.js'
import { isValidPort } from '../net/address.js'

export interface ContainerSpec {
  readonly image: string
  /** Declared containerPorts; empty = the image's default port. */
  readonly ports: readonly number[]
}

export interface PodAppOptions {
  readonly pod: PodIdentity
  /** The pod-local address the apps bind (architecture.md: 127.245.k.j). */
  readonly host: string
  readonly containers: readonly ContainerSpec[]
  readonly proxy: SocksProxy | undefined
  readonly upstreamTimeoutMs?: number
}

export interface PodApps {
  /** `host:port` of every listening app. */
  readonly listening: readonly string[]
  close(): Promise<void>
}

/** The ports a container's sample app listens on: its declared ports, else the app's default; none for an idle app (curl, sleep). */
export function servedPorts(c: ContainerSpec): number[] {
  const app = appForImage(c.image)?.app
  if (app === undefined || app.handle === undefined) return []
  return c.ports.length > 0 ? [...c.ports] : app.defaultPort === undefined ? [] : [app.defaultPort]
}

export async function startPodApps(options: PodAppOptions): Promise<PodApps> {
  // Resolve every image first: an unknown one fails the pod before anything binds.
  const resolved = options.containers.map((c, i) => ({
    c,
    ...requireAppForImage(c.image, `pod ${options.pod.namespace}/${options.pod.name} container ${i}`),
  }))
  const running: RunningApp[] = []
  try {
    for (const { c, app, version } of resolved) {
      for (const port of servedPorts(c)) {
        running.push(
          await serveApp(
            app,
            { pod: options.pod, version, proxy: options.proxy, upstreamTimeoutMs: options.upstreamTimeoutMs ?? 5_000 },
            { host: options.host, port },
          ),
        )
      }
    }
  } catch (err) {
    await Promise.allSettled(running.map((r) => r.close()))
    throw err
  }
  return {
    listening: running.map((r) => `${r.address.address}:${r.address.port}`),
    async close() {
      await Promise.allSettled(running.map((r) => r.close()))
    },
  }
}

/** `socks5h://127.244.1.2:15080` → the proxy; undefined for no or another kind of proxy. */
export function socksProxyFromUrl(url: string | undefined): SocksProxy | undefined {
  if (url === undefined || url === '') return undefined
  const m = /^socks5h?:\/\/([^:/]+):(\d+)\/?$/.exec(url)
  return m === null ? undefined : { host: m[1]!, port: Number(m[2]) }
}

/** `IMAGE=PORT,PORT` (the runner's encoding of one container on the `ambient app` command line). */
export function parseContainerArg(arg: string): ContainerSpec {
  const at = arg.lastIndexOf('=')
  if (at < 0) return { image: arg, ports: [] }
  const ports = arg
    .slice(at + 1)
    .split(',')
    .filter((p) => p !== '')
    .map(Number)
  if (ports.some((p) => !isValidPort(p))) throw new Error(`--container ${arg}: ports must be integers 1-65535`)
  return { image: arg.slice(0, at), ports }
}

export function formatContainerArg(c: ContainerSpec): string {
  return `${c.image}=${c.ports.join(',')}`
}
