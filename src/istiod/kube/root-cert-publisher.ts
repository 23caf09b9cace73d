// Istio's namespace controller: ConfigMap `istio-ca-root-cert` (key `root-cert.pem`) in every
// namespace, so workloads can trust the mesh root. Created when missing, corrected when edited;
// each namespace is written once per content (a set remembers what was done).
import { KubeStatusError, type KubeClient } from '../../kube/client.js'

export const ROOT_CERT_CONFIGMAP = 'istio-ca-root-cert'
export const ROOT_CERT_KEY = 'root-cert.pem'

export interface RootCertPublisher {
  /** Ensures the ConfigMap in each namespace (idempotent; resolves when written). */
  sync(namespaces: readonly string[]): Promise<void>
}

export function createRootCertPublisher(
  client: KubeClient,
  rootCertPem: string,
  onError: (ns: string, err: unknown) => void,
): RootCertPublisher {
  const done = new Set<string>()
  const ensure = async (ns: string): Promise<void> => {
    const path = `/api/v1/namespaces/${ns}/configmaps`
    try {
      const cm = await client.get<{ data?: Record<string, string> }>(`${path}/${ROOT_CERT_CONFIGMAP}`)
      if (cm.data?.[ROOT_CERT_KEY] !== rootCertPem)
        await client.patch(`${path}/${ROOT_CERT_CONFIGMAP}`, { data: { [ROOT_CERT_KEY]: rootCertPem } })
    } catch (err) {
      if (!(err instanceof KubeStatusError && err.statusCode === 404)) throw err
      await client.create(path, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: ROOT_CERT_CONFIGMAP, namespace: ns, labels: { 'istio.io/config': 'true' } },
        data: { [ROOT_CERT_KEY]: rootCertPem },
      })
    }
    done.add(ns)
  }
  return {
    async sync(namespaces) {
      await Promise.all(namespaces.filter((ns) => !done.has(ns)).map((ns) => ensure(ns).catch((err: unknown) => onError(ns, err))))
    },
  }
}
