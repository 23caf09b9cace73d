// Authentication as Istio does it on Kubernetes: a proxy presents its projected ServiceAccount
// token (audience `istio-ca`); istiod asks the API server (TokenReview) who it is, and which pod
// and node it is bound to. The caller is then
//  - a node agent (ztunnel's service account): the node it runs on — it may obtain what the pods
//    of that node may have (the ImpersonatedIdentity rule);
//  - any other proxy (a waypoint): `sa:<ns>/<sa>@<node>` — only its own identity, only while a pod
//    of that service account runs on that node.
// Results are cached per token for `cacheMs` (default 60 s), as Istio's authenticator does.
import type { KubeClient, KubeObject } from '../../kube/client.js'

export const ISTIO_CA_AUDIENCE = 'istio-ca'
const POD_NAME = 'authentication.kubernetes.io/pod-name'
const NODE_NAME = 'authentication.kubernetes.io/node-name'

export interface TokenReviewAuthenticatorOptions {
  readonly client: KubeClient
  /** Service accounts (`ns/name`) that act for their node. Default `istio-system/ztunnel`. */
  readonly nodeAgents?: readonly string[]
  /** The pods istiod knows (to find a bound pod's node when the token names no node). */
  readonly pods: () => readonly KubeObject[]
  readonly audience?: string
  readonly cacheMs?: number
  readonly now?: () => number
}

interface Review {
  readonly status?: {
    readonly authenticated?: boolean
    readonly user?: { readonly username?: string; readonly extra?: Record<string, string[]> }
    readonly error?: string
  }
}

export type Caller =
  | { readonly kind: 'node'; readonly node: string }
  | { readonly kind: 'workload'; readonly namespace: string; readonly serviceAccount: string; readonly node: string }

export function callerName(c: Caller): string {
  return c.kind === 'node' ? c.node : `sa:${c.namespace}/${c.serviceAccount}@${c.node}`
}

export function parseCaller(name: string): Caller {
  const m = /^sa:([^/]+)\/([^@]+)@(.+)$/.exec(name)
  return m === null ? { kind: 'node', node: name } : { kind: 'workload', namespace: m[1]!, serviceAccount: m[2]!, node: m[3]! }
}

export function createTokenReviewAuthenticator(options: TokenReviewAuthenticatorOptions): (token: string) => Promise<string | undefined> {
  const agents = new Set(options.nodeAgents ?? ['istio-system/ztunnel'])
  const audience = options.audience ?? ISTIO_CA_AUDIENCE
  const cacheMs = options.cacheMs ?? 60_000
  const now = options.now ?? Date.now
  const cache = new Map<string, { until: number; caller: string | undefined }>()
  return async (token) => {
    const hit = cache.get(token)
    if (hit !== undefined && hit.until > now()) return hit.caller
    const review = await options.client.create<Review>('/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences: [audience] },
    })
    const caller = callerOf(review)
    if (cache.size > 10_000) cache.clear()
    cache.set(token, { until: now() + cacheMs, caller })
    return caller
  }

  function callerOf(review: Review): string | undefined {
    const s = review.status
    if (s?.authenticated !== true) return undefined
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(s.user?.username ?? '')
    if (m === null) return undefined
    const [namespace, serviceAccount] = [m[1]!, m[2]!]
    const extra = s.user?.extra ?? {}
    let node = extra[NODE_NAME]?.[0]
    const podName = extra[POD_NAME]?.[0]
    if (node === undefined && podName !== undefined) {
      const pod = options.pods().find((p) => p.metadata.namespace === namespace && p.metadata.name === podName)
      node = (pod?.spec as { nodeName?: string } | undefined)?.nodeName
    }
    if (node === undefined) return undefined // a token not bound to a pod on a node is not a proxy's
    return callerName(
      agents.has(`${namespace}/${serviceAccount}`) ? { kind: 'node', node } : { kind: 'workload', namespace, serviceAccount, node },
    )
  }
}
