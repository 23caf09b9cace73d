// Builds translation inputs from YAML as users write it, through istiod's own parser, so tests read
// like the config they check. A parse error fails loudly: these tests are about translation.
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseConfigFiles } from '../../../../src/istiod/resources/snapshot.js'
import type { ConfigSnapshot } from '../../../../src/istiod/resources/model.js'
import { translate, type TranslateOptions, type Translation } from '../../../../src/istiod/translate/index.js'
import type { Service, Workload } from '../../../../src/mesh/types.js'

export function snapshotOf(...texts: string[]): ConfigSnapshot {
  const { snapshot, messages } = parseConfigFiles(texts.map((text, i) => ({ file: `input-${i}.yaml`, text })))
  const errors = messages.filter((m) => m.severity === 'error')
  if (errors.length > 0) throw new Error(`test input does not parse: ${JSON.stringify(errors, null, 1)}`)
  return snapshot
}

export function run(yaml: string | string[], options: Partial<TranslateOptions> = {}): Translation {
  return translate(snapshotOf(...(Array.isArray(yaml) ? yaml : [yaml])), { nodes: 2, ...options })
}

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url))

/** The text of fixture files: `seed/01-…yaml`, or every file of a folder (`bookinfo`). */
export function fixture(path: string): string[] {
  const full = `${FIXTURES}${path}`
  if (path.endsWith('.yaml')) return [readFileSync(full, 'utf8')]
  return readdirSync(full)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(`${full}/${f}`, 'utf8'))
}

export function workloadNamed(t: Translation, prefix: string): Workload {
  const w = t.mesh.workloads.find((x) => x.name === prefix || x.name.startsWith(`${prefix}-`))
  if (w === undefined) throw new Error(`no workload ${prefix} in ${t.mesh.workloads.map((x) => x.name).join(', ')}`)
  return w
}

export function serviceNamed(t: Translation, name: string, namespace = 'default'): Service {
  const s = t.mesh.services.find((x) => x.name === name && x.namespace === namespace)
  if (s === undefined) throw new Error(`no service ${namespace}/${name}`)
  return s
}

export const codes = (t: Translation): string[] => t.messages.map((m) => m.code)

/** A namespace, labelled. */
export const ns = (name: string, labels: Record<string, string> = {}): string =>
  `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels: ${JSON.stringify(labels)}\n---\n`

/** A one-container Deployment serving `port` (named `http`), labelled app/version. */
export const deployment = (
  name: string,
  o: { ns?: string; app?: string; labels?: Record<string, string>; replicas?: number; sa?: string; port?: number } = {},
): string => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${o.ns ?? 'default'}}
spec:
  replicas: ${o.replicas ?? 1}
  selector: {matchLabels: {app: ${o.app ?? name}}}
  template:
    metadata:
      labels: ${JSON.stringify({ app: o.app ?? name, ...o.labels })}
    spec:
      serviceAccountName: ${o.sa ?? name}
      containers:
        - name: main
          image: app
          ports: [{name: http, containerPort: ${o.port ?? 8080}}]
---
`

export const service = (
  name: string,
  o: { ns?: string; app?: string; labels?: Record<string, string>; port?: number; targetPort?: number | string } = {},
): string => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${o.ns ?? 'default'}, labels: ${JSON.stringify(o.labels ?? {})}}
spec:
  selector: {app: ${o.app ?? name}}
  ports: [{name: http, port: ${o.port ?? 80}, targetPort: ${JSON.stringify(o.targetPort ?? 8080)}}]
---
`

export const waypoint = (name: string, o: { ns?: string; for?: string } = {}): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
  namespace: ${o.ns ?? 'default'}
  labels: ${JSON.stringify(o.for === undefined ? {} : { 'istio.io/waypoint-for': o.for })}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
`
