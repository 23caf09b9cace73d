// Sidecar mode's in-pod redirection (deploy/capture/sidecar-inpod.rules: the nat ruleset
// istio-iptables writes for a sidecar, as one iptables-restore file), installed in one pod's network
// namespace. The proxy is exempt by owner: it runs as uid/gid 1337 inside the namespace; it reaches
// the app from 127.0.0.6 (the rules' first RETURN), so that leg is not captured either.
import { readFileSync } from 'node:fs'
import { run } from './command.js'
import { deployCaptureFile } from './rules.js'

/** Istio's proxy uid and gid (istio-proxy): its own sockets are never captured. */
export const SIDECAR_PROXY_UID = 1337
export const SIDECAR_PROXY_GID = 1337
/** Outbound TCP of the app is redirected here (Envoy's virtualOutbound). */
export const SIDECAR_OUTBOUND_PORT = 15001
/** Inbound TCP to the pod is redirected here (Envoy's virtualInbound). */
export const SIDECAR_INBOUND_PORT = 15006
/** The source of the proxy's connections to the app (Istio's InboundPassthroughBindIpv4): exempt from capture. */
export const INBOUND_PASSTHROUGH_SOURCE = '127.0.0.6'
/** Inbound ports the rules leave alone: HBONE, Envoy's Prometheus, readiness, merged metrics. */
export const SIDECAR_EXCLUDED_INBOUND_PORTS = [15008, 15090, 15021, 15020] as const

export const SIDECAR_RULES_PATH = deployCaptureFile('sidecar-inpod.rules')

export function sidecarCaptureRules(): string {
  return readFileSync(SIDECAR_RULES_PATH, 'utf8')
}

export async function installSidecarCaptureRules(netns: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'iptables-restore'], sidecarCaptureRules())
}
