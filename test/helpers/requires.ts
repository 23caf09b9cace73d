// "This test needs tool X": the one way a test says so. `requires(t, ...needs)` gives the `skip`
// option of a subtest: `false` when everything is there, else the reason (what is missing and how
// to get it). Under CI=true a missing need is not a skip but a failure: the parent `t` gets a
// failing assertion naming it (so CI cannot go green with the check unexercised; `.ci/run`
// installs the tools).
//
//   t.test('headless Chromium draws the graph', { skip: requires(t, needs.chromium) }, async (t) => …)
//   t.test('in-pod capture', { skip: requires(t, needs.root, needs.netns, needs.iptables) }, …)
//
// A need is checked once per process; `needs.tool(name, hint)` and `needs.file(path, hint)` make
// new ones.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import path from 'node:path'

export interface Need {
  readonly name: string
  /** The reason to skip with, or undefined when the need is met. */
  missing(): string | undefined
}

/** The first executable called `name` on PATH, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const candidate = path.join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      /* not here */
    }
  }
  return undefined
}

function once(name: string, check: () => string | undefined): Need {
  let result: { value: string | undefined } | undefined
  return { name, missing: () => (result ??= { value: check() }).value }
}

export const needs = {
  /** An executable on PATH. */
  tool(name: string, hint = `apt-get install ${name}`): Need {
    return once(name, () => (onPath(name) === undefined ? `${name} is not installed (${hint}; .ci/run does)` : undefined))
  },
  /** A file that must exist (a browser at a fixed path, the built CLI). */
  file(file: string, hint: string): Need {
    return once(file, () => (existsSync(file) ? undefined : `${file} is missing (${hint})`))
  },
  /** Headless Chromium, at AMBIENT_CHROMIUM or /usr/bin/chromium. */
  get chromium(): Need {
    return chromium
  },
  get prometheus(): Need {
    return prometheus
  },
  get curl(): Need {
    return curl
  },
  get iptables(): Need {
    return iptables
  },
  /** Running as root (network namespaces, iptables, TPROXY). */
  get root(): Need {
    return root
  },
  /** Creating a network namespace works (`ip netns`; needs root and iproute2). */
  get netns(): Need {
    return netns
  },
}

export const CHROMIUM = process.env.AMBIENT_CHROMIUM ?? '/usr/bin/chromium'
const chromium = needs.file(CHROMIUM, 'apt-get install chromium, or set AMBIENT_CHROMIUM; .ci/run does')
const prometheus = needs.tool('prometheus')
const curl = needs.tool('curl')
const iptables = needs.tool('iptables')
const root = once('root', () => (process.getuid?.() === 0 ? undefined : 'not running as root'))
const netns = once('netns', () => {
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  if (onPath('ip') === undefined) return 'ip is not installed (apt-get install iproute2; .ci/run does)'
  const name = `ambient-probe-${process.pid}`
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' })
  if (add.status !== 0) return `ip netns add failed: ${(add.stderr || add.error?.message || '').trim()}`
  spawnSync('ip', ['netns', 'del', name])
  return undefined
})

/** Whether missing needs fail (CI=true) instead of skipping. */
export function strictNeeds(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1'
}

/** Minimal view of a tap Test: what `requires` calls on the parent. */
export interface Parent {
  fail(message: string): void
}

/** The `skip` option for a subtest of `t` that needs every one of `reqs`; under CI=true a missing
 * need also fails `t` (the subtest itself is then skipped, its reason printed). */
export function requires(t: Parent, ...reqs: Need[]): string | false {
  const reasons = reqs.map((r) => r.missing()).filter((r): r is string => r !== undefined)
  if (reasons.length === 0) return false
  const reason = reasons.join('; ')
  if (strictNeeds()) t.fail(`CI=true: a missing tool fails instead of skipping: ${reason}`)
  return reason
}
