// Which pod processes should run: the pods of the config (placed exactly as istiod places them,
// src/istiod/translate/placement.ts, so names match) joined with istiod's translation (addresses,
// node, service account). A pod istiod has not translated yet is not planned yet; the next
// reconcile picks it up. Waypoint pods are planned separately (they run `ambient waypoint`).
import type { ConfigSnapshot } from '../istiod/resources/model.js'
import { MessageSink } from '../istiod/translate/messages.js'
import { placePods, type PlacedPod } from '../istiod/translate/placement.js'
import { podUid, type IstiodView } from './istiod-view.js'
import type { ContainerSpec } from './pod-app.js'
import { appForImage, knownImages } from './sample-apps/registry.js'

export interface PodPlan {
  readonly namespace: string
  readonly name: string
  readonly workload: string
  readonly node: string
  readonly podIP: string
  /** Where the app binds: the pod-local address when ztunnel captures the pod, else the pod IP. */
  readonly bindIP: string
  readonly podLocalIP: string
  /** Captured by ztunnel (in ambient): the app gets ALL_PROXY. */
  readonly captured: boolean
  readonly serviceAccount: string
  readonly containers: readonly ContainerSpec[]
}

export interface PlanProblem {
  readonly pod: string
  readonly message: string
}

export function configPods(snapshot: ConfigSnapshot, nodes: number): PlacedPod[] {
  return placePods({ pods: snapshot.Pod, deployments: snapshot.Deployment, waypoints: [], nodes }, new MessageSink())
}

/** Images of the config with no sample app: one problem per container. */
export function unknownImages(pods: readonly PlacedPod[]): PlanProblem[] {
  const out: PlanProblem[] = []
  for (const p of pods) {
    for (const c of p.spec.containers) {
      if (appForImage(c.image) === undefined) {
        out.push({
          pod: `${p.namespace}/${p.name}`,
          message:
            `${p.object} container "${c.name}": image "${c.image}" has no built-in sample app; known images ` +
            `(any registry and tag): ${knownImages().join(', ')}`,
        })
      }
    }
  }
  return out
}

export function planPods(placed: readonly PlacedPod[], view: IstiodView): { plans: PodPlan[]; problems: PlanProblem[] } {
  const byUid = new Map(view.workloads.map((w) => [w.uid, w]))
  const bad = new Set(unknownImages(placed).map((p) => p.pod))
  const plans: PodPlan[] = []
  for (const p of placed) {
    const key = `${p.namespace}/${p.name}`
    if (bad.has(key)) continue
    const w = byUid.get(podUid(p.namespace, p.name))
    const podIP = w?.addresses[0]
    if (w === undefined || podIP === undefined || w.podLocalAddress === undefined) continue
    const captured = w.tunnelProtocol === 'HBONE'
    plans.push({
      namespace: p.namespace,
      name: p.name,
      workload: w.workloadName,
      node: w.node,
      podIP,
      podLocalIP: w.podLocalAddress,
      bindIP: captured ? w.podLocalAddress : podIP,
      captured,
      serviceAccount: w.serviceAccount,
      containers: p.spec.containers.map((c) => ({
        image: c.image,
        ports: c.ports.filter((port) => port.protocol === 'TCP').map((port) => port.containerPort),
      })),
    })
  }
  return { plans, problems: unknownImages(placed) }
}
