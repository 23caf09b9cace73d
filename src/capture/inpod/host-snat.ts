// The host-side half of the kubelet probe exemption (istio-cni's role on the node): in the node's
// network namespace, the node's own TCP connections to an enrolled ambient pod are SNAT'd to
// PROBE_SNAT_IP, which the pod's rules (rules.ts) let reach the app unredirected. The rules are
// deploy/capture/ambient-host.rules: one nat chain jumped from POSTROUTING, one `-d IP/32` rule per
// pod (no ipset: only iptables is needed on the node). The chain is rewritten as a whole from the
// agent's set of pod IPs (`iptables-restore --noflush` leaves the rest of the nat table alone), so
// the first apply after a start also drops entries left by a previous run.
//
// The node's namespace: a path (`nsenter --net=/proc/1/ns/net` with hostPID), a name under
// /run/netns, or undefined for the agent's own namespace (hostNetwork).
import { readFileSync } from 'node:fs'
import { AmbientError, errorMessage } from '../../errors.js'
import { run } from './command.js'
import { deployCaptureFile, inNetns } from './rules.js'

export const HOST_SNAT_CHAIN = 'ISTIO_POSTRT'
export const HOST_RULES_PATH = deployCaptureFile('ambient-host.rules')

export const HostSnatErrorCode = {
  /** iptables (or nsenter) is missing, or the node namespace cannot be entered. */
  unavailable: 'CAPTURE_HOST_SNAT_UNAVAILABLE',
  /** iptables refused the rules. */
  apply: 'CAPTURE_HOST_SNAT_APPLY',
  /** A pod IP that is not a dotted IPv4 address. */
  badIp: 'CAPTURE_HOST_SNAT_BAD_IP',
} as const

export interface HostSnatPlan {
  readonly add: readonly string[]
  readonly del: readonly string[]
  /** Rewrite the chain: something changed, or nothing was applied yet (reconcile on start). */
  readonly apply: boolean
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** What changes from `applied` (undefined: nothing applied by this agent yet) to the IPs of `wanted`. Pure. */
export function planHostSnat(applied: ReadonlySet<string> | undefined, wanted: Iterable<string>): HostSnatPlan {
  const want = new Set([...wanted].filter((ip) => ip !== ''))
  for (const ip of want)
    if (!IPV4.test(ip)) throw new AmbientError(HostSnatErrorCode.badIp, `pod IP "${ip}" is not an IPv4 address`, { side: 'internal' })
  const had = applied ?? new Set<string>()
  const add = [...want].filter((ip) => !had.has(ip)).sort()
  const del = [...had].filter((ip) => !want.has(ip)).sort()
  return { add, del, apply: applied === undefined || add.length > 0 || del.length > 0 }
}

/** The iptables-restore text for the chain holding one SNAT rule per IP (the template's rule line repeated). Pure. */
export function renderHostSnatRules(template: string, ips: Iterable<string>): string {
  const out: string[] = []
  for (const line of template.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue
    if (line.includes('{{POD_IP}}')) for (const ip of [...ips].sort()) out.push(line.replaceAll('{{POD_IP}}', ip))
    else out.push(line)
  }
  return out.join('\n') + '\n'
}

export interface HostSnat {
  /** Makes the chain hold exactly `ips` (no command when nothing changed since the last apply). */
  sync(ips: Iterable<string>): Promise<HostSnatPlan>
  /** The IPs last applied. */
  applied(): ReadonlySet<string>
}

function exec(netns: string | undefined, args: string[], input?: string) {
  if (netns === undefined) return run(args[0]!, args.slice(1), input)
  const [cmd, ...prefix] = inNetns(netns)
  return run(cmd!, [...prefix, ...args], input)
}

function classify(err: unknown, netns: string | undefined): AmbientError {
  const msg = errorMessage(err)
  const missing = /ENOENT|not found|No such file|cannot open|reassociate/i.test(msg)
  return new AmbientError(
    missing ? HostSnatErrorCode.unavailable : HostSnatErrorCode.apply,
    `probe SNAT in ${netns ?? "the agent's namespace"}: ${msg}`,
    { side: 'internal', cause: err },
  )
}

export function createHostSnat(netns: string | undefined, template = readFileSync(HOST_RULES_PATH, 'utf8')): HostSnat {
  let applied: Set<string> | undefined
  return {
    async sync(ips) {
      const plan = planHostSnat(applied, ips)
      if (!plan.apply) return plan
      const want = new Set(ips)
      want.delete('')
      try {
        await exec(netns, ['iptables-restore', '--noflush'], renderHostSnatRules(template, want))
        const jump = ['POSTROUTING', '-j', HOST_SNAT_CHAIN]
        const present = await exec(netns, ['iptables', '-t', 'nat', '-C', ...jump]).then(
          () => true,
          () => false,
        )
        if (!present) await exec(netns, ['iptables', '-t', 'nat', '-A', ...jump])
      } catch (err) {
        applied = undefined
        throw classify(err, netns)
      }
      applied = want
      return plan
    },
    applied: () => applied ?? new Set(),
  }
}

/** Removes the jump and the chain (tests, uninstall); missing ones are fine. */
export async function removeHostSnat(netns: string | undefined): Promise<void> {
  await exec(netns, ['iptables', '-t', 'nat', '-D', 'POSTROUTING', '-j', HOST_SNAT_CHAIN]).catch(() => undefined)
  await exec(netns, ['iptables', '-t', 'nat', '-F', HOST_SNAT_CHAIN]).catch(() => undefined)
  await exec(netns, ['iptables', '-t', 'nat', '-X', HOST_SNAT_CHAIN]).catch(() => undefined)
}
