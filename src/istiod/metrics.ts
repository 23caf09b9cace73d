// istiod's own metrics, named as Istio's pilot exports them where one exists, on a registry of its
// own (no module-level registry: tests run several istiods in one process). They implement the Delta ADS
// server's metrics hooks, plus the config pipeline's counters.
import { Counter, Gauge, Histogram, Registry } from '../observability/prom.js'
import type { DeltaAdsMetrics } from '../xds/delta-server.js'

/** Istio's buckets for pilot_proxy_convergence_time (seconds). */
const CONVERGENCE_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3, 5, 10, 20, 30]

export interface IstiodMetrics extends DeltaAdsMetrics {
  readonly registry: Registry
  readonly contentType: string
  /** One config update processed: its outcome and the analysis' message counts. */
  configUpdate(e: { readonly outcome: 'applied' | 'failed'; readonly errors: number; readonly warnings: number }): void
  render(): Promise<string>
}

export function createIstiodMetrics(): IstiodMetrics {
  const registry = new Registry()
  const registers = [registry]
  // The Delta xDS counters, each by the resource type's short name.
  const byType = (name: string, help: string): Counter<'type'> => new Counter({ name, help, labelNames: ['type'], registers })
  const pushes = byType('pilot_xds_pushes', 'Delta xDS responses sent, by type')
  const pushedResources = byType('pilot_xds_pushed_resources_total', 'Resources sent in Delta xDS responses, by type')
  const removals = byType('pilot_xds_removed_resources_total', 'Resource removals sent in Delta xDS responses, by type')
  const pushBytes = byType('pilot_xds_config_size_bytes_total', 'Encoded resource bytes sent, by type')
  const acks = byType('pilot_xds_acks_total', 'Delta xDS responses acknowledged (ACK), by type')
  const rejects = byType('pilot_total_xds_rejects', 'Delta xDS responses rejected by a proxy (NACK), by type')
  const connected = new Gauge({ name: 'pilot_xds', help: 'Connected xDS clients', registers })
  const convergence = new Histogram({
    name: 'pilot_proxy_convergence_time',
    help: 'Seconds from sending a push to its ACK',
    labelNames: ['type'],
    buckets: CONVERGENCE_BUCKETS_S,
    registers,
  })
  const updates = new Counter({
    name: 'istiod_config_updates_total',
    help: 'Config directory changes processed, by outcome',
    labelNames: ['outcome'],
    registers,
  })
  const analysis = new Gauge({
    name: 'istiod_analysis_messages',
    help: 'Analysis messages for the current config, by level',
    labelNames: ['level'],
    registers,
  })
  const short = (typeUrl: string): string => typeUrl.slice(typeUrl.lastIndexOf('/') + 1)
  connected.set(0)

  return {
    registry,
    contentType: registry.contentType,
    pushed(e) {
      const type = short(e.typeUrl)
      pushes.inc({ type })
      pushedResources.inc({ type }, e.resources)
      removals.inc({ type }, e.removals)
      pushBytes.inc({ type }, e.bytes)
    },
    acked(e) {
      const type = short(e.typeUrl)
      acks.inc({ type })
      convergence.observe({ type }, e.latencyMs / 1000)
    },
    nacked(e) {
      rejects.inc({ type: short(e.typeUrl) })
    },
    connectedProxies(count) {
      connected.set(count)
    },
    configUpdate(e) {
      updates.inc({ outcome: e.outcome })
      analysis.set({ level: 'Error' }, e.errors)
      analysis.set({ level: 'Warning' }, e.warnings)
    },
    render: () => registry.metrics(),
  }
}
