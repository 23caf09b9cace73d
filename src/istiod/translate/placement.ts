// Where pods are and what they are called: the part of Kubernetes (ReplicaSet controller and
// scheduler) that the emulator plays itself. Pure and deterministic, so the same config always
// gives the same pods on the same nodes, on every machine and every restart:
//  - a Deployment with `replicas: n` becomes n pods `<deployment>-<template hash>-<i>`; the hash is
//    over the pod template, as Kubernetes' `pod-template-hash` is, so a template change "rolls" the
//    pods (new names, new addresses) and a replica count change does not touch the others;
//  - a pod runs on `spec.nodeName` when that is one of node-1..node-N, else on node
//    1 + fnv1a(namespace/name) mod N (the address plan of architecture.md numbers nodes from 1);
//  - a waypoint Gateway becomes one pod named after the Gateway, service account = Gateway name,
//    as istiod's waypoint deployment controller creates it (identity `.../sa/<gateway name>`).
import type { Deployment, Gateway, Labels, Pod, PodSpec, ObjectSource } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import type { MessageSink } from './messages.js'
import { TranslationCode, cmp } from './messages.js'

/** Label istiod puts on waypoint pods (and selects the waypoint Service by). */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name'

/** Label Istio puts on what its waypoint controller manages, and its value. */
export const MANAGED_LABEL = 'gateway.istio.io/managed'
export const WAYPOINT_CONTROLLER = 'istio.io-mesh-controller'

export type PodOwner =
  | { readonly kind: 'Pod' }
  | { readonly kind: 'Deployment'; readonly name: string }
  | { readonly kind: 'Waypoint'; readonly gateway: Gateway }

/** One running pod, whatever created it, with its node decided. */
export interface PlacedPod {
  readonly namespace: string
  readonly name: string
  readonly labels: Labels
  readonly annotations: Labels
  readonly spec: PodSpec
  /** 1-based node index: the pod runs on `node-<nodeIndex>` (or on `nodeNames[nodeIndex - 1]`). */
  readonly nodeIndex: number
  /** The node's name. */
  readonly node: string
  /** The address a Pod object's status gave (a dump of a real cluster); kept as is. */
  readonly podIP: string | undefined
  readonly owner: PodOwner
  /** The object messages about this pod should name. */
  readonly object: string
  readonly source: ObjectSource
}

export function nodeName(index: number): string {
  return `node-${index}`
}

/**
 * FNV-1a, 32 bits. Chosen because it is tiny, has no dependency, and is stable across Node
 * versions (unlike anything seeded); its distribution is plenty for spreading pods over nodes.
 */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** Kubernetes' safe alphabet for generated name parts (no vowels, no look-alikes). */
const SAFE = 'bcdfghjklmnpqrstvwxz2456789'

/** A 10-character name part from a hash, like a ReplicaSet's `pod-template-hash`. */
export function templateHash(text: string): string {
  let a = fnv1a(text)
  let b = fnv1a(`${text}#`)
  let out = ''
  for (let i = 0; i < 10; i++) {
    const src = i < 5 ? a : b
    out += SAFE[src % SAFE.length]
    if (i < 5) a = Math.floor(a / SAFE.length)
    else b = Math.floor(b / SAFE.length)
  }
  return out
}

/** JSON with sorted keys: the template hash must not depend on key order in the YAML. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => cmp(a, b))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export interface PlacementInput {
  readonly pods: readonly Pod[]
  readonly deployments: readonly Deployment[]
  /** Gateways that are waypoints (gatewayClassName istio-waypoint). */
  readonly waypoints: readonly Gateway[]
  readonly nodes: number
  /**
   * A real cluster's node names (istiod on the Kubernetes API): pods run on their own
   * `spec.nodeName`, and nothing is synthesised — Deployments and waypoint Gateways have real pods.
   */
  readonly nodeNames?: readonly string[]
}

/** Every pod of the config, sorted by namespace/name, each on a node. */
export function placePods(input: PlacementInput, sink: MessageSink): PlacedPod[] {
  const byKey = new Map<string, PlacedPod>()
  const put = (p: PlacedPod): void => {
    const key = `${p.namespace}/${p.name}`
    const existing = byKey.get(key)
    if (existing !== undefined) {
      sink.add({
        code: TranslationCode.duplicatePod,
        severity: 'warning',
        object: p.object,
        path: 'metadata.name',
        source: p.source,
        reason: `pod ${key} is also created by ${existing.object}; the Pod object is used`,
        hint: 'rename the Pod or the Deployment',
      })
      if (p.owner.kind !== 'Pod') return
    }
    byKey.set(key, p)
  }
  const names = input.nodeNames
  if (names === undefined) {
    for (const d of input.deployments) for (const p of deploymentPods(d, input.nodes, sink)) put(p)
    for (const g of input.waypoints) put(waypointPod(g, input.nodes))
  }
  for (const pod of input.pods) {
    const index =
      names === undefined
        ? chooseNode(pod.metadata.namespace, pod.metadata.name, pod.spec.nodeName, input.nodes, objectKey(pod), pod.source, sink)
        : 1 + Math.max(0, names.indexOf(pod.spec.nodeName ?? ''))
    put({
      namespace: pod.metadata.namespace,
      name: pod.metadata.name,
      labels: pod.metadata.labels,
      annotations: pod.metadata.annotations,
      spec: pod.spec,
      nodeIndex: index,
      node: names?.[index - 1] ?? nodeName(index),
      podIP: pod.status.podIP,
      owner: names === undefined ? { kind: 'Pod' } : ownerOf(pod, input.waypoints),
      object: objectKey(pod),
      source: pod.source,
    })
  }
  return [...byKey.values()].sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name))
}

function deploymentPods(d: Deployment, nodes: number, sink: MessageSink): PlacedPod[] {
  const { namespace, name } = d.metadata
  const hash = templateHash(canonicalJson(d.spec.template))
  const out: PlacedPod[] = []
  for (let i = 0; i < d.spec.replicas; i++) {
    const podName = `${name}-${hash}-${i}`
    const nodeIndex = chooseNode(namespace, podName, d.spec.template.spec.nodeName, nodes, objectKey(d), d.source, sink)
    out.push({
      namespace,
      name: podName,
      labels: { ...d.spec.template.metadata.labels, 'pod-template-hash': hash },
      annotations: d.spec.template.metadata.annotations,
      spec: d.spec.template.spec,
      nodeIndex,
      node: nodeName(nodeIndex),
      podIP: undefined,
      owner: { kind: 'Deployment', name },
      object: objectKey(d),
      source: d.source,
    })
  }
  return out
}

function waypointPod(g: Gateway, nodes: number): PlacedPod {
  const { namespace, name } = g.metadata
  return {
    namespace,
    name,
    // Istio's waypoint Deployment labels: the gateway name (its Service selects on it) and
    // `istio.io/dataplane-mode: none`, since a waypoint terminates HBONE itself.
    labels: { [GATEWAY_NAME_LABEL]: name, 'istio.io/dataplane-mode': 'none', [MANAGED_LABEL]: WAYPOINT_CONTROLLER },
    annotations: {},
    spec: {
      containers: [{ name: 'istio-proxy', image: 'ambient-waypoint', ports: [{ name: 'mesh', containerPort: 15008, protocol: 'TCP' }] }],
      serviceAccountName: name,
    },
    nodeIndex: hashNode(namespace, name, nodes),
    node: nodeName(hashNode(namespace, name, nodes)),
    podIP: undefined,
    owner: { kind: 'Waypoint', gateway: g },
    object: objectKey(g),
    source: g.source,
  }
}

/** On a real cluster, the pods of a waypoint Deployment istiod made are that waypoint's. */
function ownerOf(pod: Pod, waypoints: readonly Gateway[]): PodOwner {
  const gateway = pod.metadata.labels[GATEWAY_NAME_LABEL]
  if (gateway === undefined || pod.metadata.labels[MANAGED_LABEL] !== WAYPOINT_CONTROLLER) return { kind: 'Pod' }
  const g = waypoints.find((w) => w.metadata.namespace === pod.metadata.namespace && w.metadata.name === gateway)
  return g === undefined ? { kind: 'Pod' } : { kind: 'Waypoint', gateway: g }
}

function hashNode(namespace: string, name: string, nodes: number): number {
  return 1 + (fnv1a(`${namespace}/${name}`) % nodes)
}

function chooseNode(
  namespace: string,
  name: string,
  wanted: string | undefined,
  nodes: number,
  object: string,
  source: ObjectSource,
  sink: MessageSink,
): number {
  if (wanted !== undefined) {
    const m = /^node-([1-9]\d*)$/.exec(wanted)
    const k = m === null ? NaN : Number(m[1])
    if (k >= 1 && k <= nodes) return k
    sink.add({
      code: TranslationCode.unknownNode,
      severity: 'warning',
      object,
      path: 'spec.nodeName',
      source,
      reason: `node "${wanted}" is not one of node-1..node-${nodes}; the pod is placed by hash`,
      hint: `write a nodeName from node-1 to node-${nodes}, or leave it out`,
    })
  }
  return hashNode(namespace, name, nodes)
}
