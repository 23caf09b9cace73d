// Where the API server is and how to authenticate: in-cluster (the service-account mount plus
// KUBERNETES_SERVICE_HOST/PORT, as client-go's rest.InClusterConfig) or a kubeconfig file (its
// current context; server, CA, client certificate or bearer token, inline or by file).
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parse } from 'yaml'
import { AmbientError, errorMessage } from '../errors.js'

export interface KubeConnection {
  /** `https://host:port` (or http:// for a local fake). */
  readonly server: string
  readonly token?: string
  readonly caPem?: string
  readonly certPem?: string
  readonly keyPem?: string
  readonly insecure?: boolean
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

const badConfig = (message: string, cause?: unknown): AmbientError =>
  new AmbientError('KUBE_CONFIG_INVALID', message, { side: 'config', cause })

/** In-cluster: `env` is KUBERNETES_SERVICE_HOST/PORT; the token and CA come from `dir`. */
export async function inClusterConnection(
  env: Readonly<Record<string, string | undefined>>,
  dir = SERVICE_ACCOUNT_DIR,
): Promise<KubeConnection> {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT
  if (host === undefined || port === undefined || host === '' || port === '') {
    throw badConfig('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; pass --kubeconfig FILE')
  }
  try {
    const token = (await readFile(`${dir}/token`, 'utf8')).trim()
    const caPem = await readFile(`${dir}/ca.crt`, 'utf8')
    return { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, token, caPem }
  } catch (err) {
    throw badConfig(`cannot read the service account mount ${dir}: ${errorMessage(err)}`, err)
  }
}

interface Named<T> {
  readonly name: string
  readonly [k: string]: unknown
  readonly value?: T
}

/** The kubeconfig's current context (or `context`). Relative file paths are relative to the file. */
export async function kubeconfigConnection(file: string, context?: string): Promise<KubeConnection> {
  let doc: Record<string, unknown>
  try {
    doc = parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch (err) {
    throw badConfig(`${file}: cannot read the kubeconfig: ${errorMessage(err)}`, err)
  }
  const pick = (list: string, name: string | undefined, key: string): Record<string, unknown> => {
    const entries = (doc[list] ?? []) as Named<unknown>[]
    const found = entries.find((e) => e.name === name)
    if (found === undefined || typeof found[key] !== 'object') throw badConfig(`${file}: ${list}: no entry named "${name ?? ''}"`)
    return found[key] as Record<string, unknown>
  }
  const ctx = pick('contexts', context ?? (doc['current-context'] as string | undefined), 'context')
  const cluster = pick('clusters', ctx.cluster as string | undefined, 'cluster')
  const user = ctx.user === undefined ? {} : pick('users', ctx.user as string, 'user')
  const base = dirname(file)
  const data = async (inline: unknown, path: unknown): Promise<string | undefined> => {
    if (typeof inline === 'string') return Buffer.from(inline, 'base64').toString('utf8')
    if (typeof path === 'string') return readFile(resolve(base, path), 'utf8')
    return undefined
  }
  const server = cluster.server
  if (typeof server !== 'string') throw badConfig(`${file}: clusters[${String(ctx.cluster)}].cluster.server is required`)
  const token =
    typeof user.token === 'string'
      ? user.token
      : typeof user.tokenFile === 'string'
        ? (await readFile(resolve(base, user.tokenFile), 'utf8')).trim()
        : undefined
  const caPem = await data(cluster['certificate-authority-data'], cluster['certificate-authority'])
  const certPem = await data(user['client-certificate-data'], user['client-certificate'])
  const keyPem = await data(user['client-key-data'], user['client-key'])
  return {
    server,
    ...(token === undefined ? {} : { token }),
    ...(caPem === undefined ? {} : { caPem }),
    ...(certPem === undefined ? {} : { certPem }),
    ...(keyPem === undefined ? {} : { keyPem }),
    ...(cluster['insecure-skip-tls-verify'] === true ? { insecure: true } : {}),
  }
}
