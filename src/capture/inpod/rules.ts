// Installs the in-pod redirection rules (deploy/capture/ambient-inpod.rules, Istio's ambient
// ruleset as one iptables-restore file) and the policy route their marks need, in one pod's
// network namespace.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from './command.js'

/** ztunnel's own sockets carry this mark and are never captured (Istio's value). */
export const ZTUNNEL_MARK = 0x539
/** Connections ztunnel accepted or opened transparently; their replies route back locally. */
export const CONNMARK = 0x111
export const ROUTE_TABLE = 100

/** A file of deploy/capture: src/capture/inpod and dist/capture/inpod are both three levels below the package root. */
export function deployCaptureFile(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'deploy', 'capture', name)
}

export const RULES_PATH = deployCaptureFile('ambient-inpod.rules')

export function captureRules(): string {
  return readFileSync(RULES_PATH, 'utf8')
}

export async function installCaptureRules(netns: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'iptables-restore'], captureRules())
  await run(
    'ip',
    ['-n', netns, '-batch', '-'],
    [
      `rule add fwmark 0x${CONNMARK.toString(16)}/0xfff pref 32764 lookup ${ROUTE_TABLE}`,
      `route add local 0.0.0.0/0 dev lo table ${ROUTE_TABLE}`,
    ].join('\n') + '\n',
  )
}
