// The YAML the behaviour suite (test/integration/behaviour) runs in both modes — what a user writes,
// unchanged between ambient and sidecar. A bookinfo-like namespace:
//  - client, other and productpage (node-1) only call out; reviews-v1/v2 and ratings-v1 (node-2) serve the
//    httpbin-like app (test/helpers/httpbin-app.ts) on 9080, a TCP echo on 9000 and a gRPC-shaped
//    h2 echo on 9090 (ratings declares it as a `grpc` port);
//  - reviews and ratings use the waypoint `waypoint` (ignored in sidecar mode, where the callers'
//    sidecars do the L7 work);
//  - the reviews VirtualService has one route per behaviour, chosen by path prefix, and the seed's
//    90/10 canary as the default route; ratings has a circuit breaker in its DestinationRule;
//  - L7 authorization on reviews: GET only, only from client; the L4 ALLOW at the reviews pods
//    for the waypoint's principal (in ambient their ztunnel sees the waypoint as the source).
import { NAMESPACE_YAML } from './istiod-mesh.js'

export const WAYPOINT = 'waypoint'
export const CLIENTS = ['client', 'other', 'productpage'] as const
export const APPS = ['reviews-v1', 'reviews-v2', 'ratings-v1'] as const

/** A pod pinned to a node, with labels and a service account, serving 9080. */
export function labelledPodYaml(name: string, node: string, labels: Record<string, string>, sa: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: default
  labels:
${Object.entries(labels)
  .map(([k, v]) => `    ${k}: ${v}\n`)
  .join('')}spec:
  nodeName: ${node}
  serviceAccountName: ${sa}
  containers:
    - name: app
      image: example/app
      ports:
        - containerPort: 9080
`
}

function service(name: string, extraPorts = ''): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
  labels:
    app: ${name}
    istio.io/use-waypoint: ${WAYPOINT}
spec:
  selector:
    app: ${name}
  ports:
    - name: http
      port: 9080
      targetPort: 9080
    - name: tcp-echo
      port: 9000
      targetPort: 9000
${extraPorts}`
}

/** The reviews route for each behaviour, by path prefix. */
export const ROUTES_YAML = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts:
    - reviews
  http:
    - name: retry
      match:
        - uri:
            prefix: /retry/
      rewrite:
        uri: /
      route:
        - destination:
            host: reviews
            subset: v1
      retries:
        attempts: 3
        perTryTimeout: 2s
        retryOn: 5xx
    - name: timeout
      match:
        - uri:
            prefix: /timeout/
      rewrite:
        uri: /
      route:
        - destination:
            host: reviews
            subset: v1
      timeout: 0.3s
      retries:
        attempts: 0
    - name: abort
      match:
        - uri:
            prefix: /fault-abort/
      fault:
        abort:
          percentage:
            value: 100
          httpStatus: 418
      route:
        - destination:
            host: reviews
    - name: delay
      match:
        - uri:
            prefix: /fault-delay/
      fault:
        delay:
          percentage:
            value: 100
          fixedDelay: 0.2s
      route:
        - destination:
            host: reviews
            subset: v1
    - name: mirror
      match:
        - uri:
            prefix: /mirror/
      route:
        - destination:
            host: reviews
            subset: v1
      mirror:
        host: reviews
        subset: v2
      mirrorPercentage:
        value: 100
    - name: any-version
      match:
        - uri:
            prefix: /any/
      route:
        - destination:
            host: reviews
    - name: canary-header
      match:
        - headers:
            x-canary:
              exact: always
      route:
        - destination:
            host: reviews
            subset: v2
    - name: canary
      route:
        - destination:
            host: reviews
            subset: v1
          weight: 90
        - destination:
            host: reviews
            subset: v2
          weight: 10
`

/** The reviews subsets by version label. */
export const SUBSETS_YAML = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: default
spec:
  host: reviews
  subsets:
    - name: v1
      labels:
        version: v1
    - name: v2
      labels:
        version: v2
`

/** The waypoint Gateway (for services). */
export const WAYPOINT_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${WAYPOINT}
  namespace: default
  labels:
    istio.io/waypoint-for: service
spec:
  gatewayClassName: istio-waypoint
  listeners:
    - name: mesh
      port: 15008
      protocol: HBONE
`

/** L7 GET-only from client on the reviews Service (targetRefs), and the L4 ALLOW for the waypoint at the reviews pods. */
export const AUTHZ_YAML = `# L7: only GET, only from the client (the waypoint in ambient, the reviews sidecars in sidecar mode).
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-get-only
  namespace: default
spec:
  targetRefs:
    - kind: Service
      group: ""
      name: reviews
  action: ALLOW
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/default/sa/client"]
      to:
        - operation:
            methods: ["GET"]
---
# L4 at the reviews pods: in ambient the source their ztunnel sees is the waypoint.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-from-waypoint
  namespace: default
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/default/sa/${WAYPOINT}"]
`

export const BEHAVIOUR_FILES: Readonly<Record<string, string>> = {
  '00-namespace.yaml': NAMESPACE_YAML,
  'clients.yaml': [
    labelledPodYaml('client', 'node-1', { app: 'client' }, 'client'),
    labelledPodYaml('other', 'node-1', { app: 'other' }, 'other'),
    labelledPodYaml('productpage', 'node-1', { app: 'productpage' }, 'bookinfo-productpage'),
  ].join('---\n'),
  'reviews.yaml': [
    labelledPodYaml('reviews-v1', 'node-2', { app: 'reviews', version: 'v1' }, 'bookinfo-reviews'),
    labelledPodYaml('reviews-v2', 'node-2', { app: 'reviews', version: 'v2' }, 'bookinfo-reviews'),
    service('reviews'),
  ].join('---\n'),
  'ratings.yaml': [
    labelledPodYaml('ratings-v1', 'node-2', { app: 'ratings', version: 'v1' }, 'bookinfo-ratings'),
    service('ratings', '    - name: grpc\n      port: 9090\n      targetPort: 9090\n'),
  ].join('---\n'),
  'waypoint.yaml': WAYPOINT_YAML,
  'reviews-routes.yaml': `${ROUTES_YAML}---\n${SUBSETS_YAML}`,
  'ratings-circuit-breaker.yaml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
  namespace: default
spec:
  host: ratings
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
      http:
        http1MaxPendingRequests: 1
`,
  'authz.yaml': AUTHZ_YAML,
}
