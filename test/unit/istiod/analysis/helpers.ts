// Analyzes YAML texts as if they were files of one directory, with field lines, as the CLI does.
import { analyze, createLineLocator, type AnalysisMessage } from '../../../../src/istiod/analysis/index.js'
import { parseConfigFiles } from '../../../../src/istiod/resources/snapshot.js'
import { translate } from '../../../../src/istiod/translate/index.js'

export function analyzeFiles(files: Readonly<Record<string, string>>, opts: { translate?: boolean } = {}): AnalysisMessage[] {
  const list = Object.entries(files).map(([file, text]) => ({ file, text }))
  const parsed = parseConfigFiles(list)
  const translation = opts.translate ? translate(parsed.snapshot, { nodes: 2 }) : undefined
  return analyze(parsed.snapshot, parsed.messages, translation, { locate: createLineLocator(list) })
}

/** 1-based line of the first line of `text` containing `needle` (for asserting field lines). */
export function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle))
  if (i < 0) throw new Error(`"${needle}" not in text`)
  return i + 1
}

/** An ambient namespace `shop` with a Service `cart` (pods of a Deployment, SA cart) and SA objects. */
export const AMBIENT_SHOP = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: cart
  namespace: shop
---
apiVersion: v1
kind: Service
metadata:
  name: cart
  namespace: shop
spec:
  selector:
    app: cart
  ports:
    - name: http
      port: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cart
  namespace: shop
spec:
  selector:
    matchLabels:
      app: cart
  template:
    metadata:
      labels:
        app: cart
    spec:
      serviceAccountName: cart
      containers:
        - name: cart
          image: cart:1
          ports:
            - containerPort: 8080
`

export const WAYPOINT = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: shop
spec:
  gatewayClassName: istio-waypoint
  listeners:
    - name: mesh
      port: 15008
      protocol: HBONE
`
