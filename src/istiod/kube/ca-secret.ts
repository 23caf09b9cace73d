// The mesh CA's root lives in a Secret, as Istio keeps it:
//  - `cacerts` (plugged-in CA: ca-cert.pem / ca-key.pem; here it must be a self-signed root —
//    intermediate chains are not supported) wins when present;
//  - else `istio-ca-secret` (Istio's self-signed CA: ca-cert.pem / ca-key.pem);
//  - else istiod creates a root and writes `istio-ca-secret` (409 → another istiod won: use theirs).
// The chosen root is written into `<caDir>` (root-cert.pem, root-key.pem, ca.json) so the CA code
// reads it as it reads a state directory.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CA_FILES, openMeshCa } from '../../identity/ca.js'
import { KubeStatusError, type KubeClient } from '../../kube/client.js'

export const CA_SECRET = 'istio-ca-secret'
export const PLUGGED_CA_SECRET = 'cacerts'

interface Secret {
  readonly data?: Record<string, string>
}

const b64 = (s: string): string => Buffer.from(s).toString('base64')
const unb64 = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'))

async function getSecret(client: KubeClient, namespace: string, name: string): Promise<Secret | undefined> {
  try {
    return await client.get<Secret>(`/api/v1/namespaces/${namespace}/secrets/${name}`)
  } catch (err) {
    if (err instanceof KubeStatusError && err.statusCode === 404) return undefined
    throw err
  }
}

/** Makes `caDir` hold the root from the cluster's Secret (creating the Secret if none); returns which one. */
export async function materialiseCaFromSecret(client: KubeClient, namespace: string, caDir: string, trustDomain: string): Promise<string> {
  await mkdir(caDir, { recursive: true, mode: 0o700 })
  const write = async (s: Secret): Promise<boolean> => {
    const cert = unb64(s.data?.['ca-cert.pem'])
    const key = unb64(s.data?.['ca-key.pem'])
    if (cert === undefined || key === undefined) return false
    await writeFile(join(caDir, CA_FILES.cert), cert, { mode: 0o644 })
    await writeFile(join(caDir, CA_FILES.key), key, { mode: 0o600 })
    await writeFile(join(caDir, CA_FILES.meta), `${JSON.stringify({ trustDomain })}\n`, { mode: 0o644 })
    return true
  }
  for (const name of [PLUGGED_CA_SECRET, CA_SECRET]) {
    const s = await getSecret(client, namespace, name)
    if (s !== undefined && (await write(s))) return name
  }
  const ca = await openMeshCa({ dir: caDir, trustDomain })
  const key = await readFile(join(caDir, CA_FILES.key), 'utf8')
  try {
    await client.create(`/api/v1/namespaces/${namespace}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'istio.io/ca-root',
      metadata: { name: CA_SECRET, namespace },
      data: { 'ca-cert.pem': b64(ca.rootCertPem), 'ca-key.pem': b64(key) },
    })
  } catch (err) {
    if (!(err instanceof KubeStatusError && err.statusCode === 409)) throw err
    const theirs = await getSecret(client, namespace, CA_SECRET)
    if (theirs !== undefined) await write(theirs)
  }
  return CA_SECRET
}
