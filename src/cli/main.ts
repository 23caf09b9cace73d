#!/usr/bin/env node
// The `ambient` command: the only place that reads process.argv/env and calls process.exit; the
// command table and dispatch are in ./registry.ts.
import type { CliIo } from './io.js'
import { runCommand } from './registry.js'

/** How often a supervised component checks that the runner that started it is still there. */
const ORPHAN_CHECK_MS = 1_000

const stopSignal = new Promise<string>((resolve) => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve(sig))
  // A component the cluster runner started (istiod, ztunnel, waypoint, sidecar, pod) stops by
  // itself when the runner is gone (killed, or a second Ctrl-C), rather than running on and
  // holding its addresses: the runner sets AMBIENT_SUPERVISED.
  if (process.env.AMBIENT_SUPERVISED === '1') {
    const parent = process.ppid
    setInterval(() => {
      if (process.ppid !== parent) resolve('orphaned')
    }, ORPHAN_CHECK_MS).unref()
  }
})
const io: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  stopSignal,
}

runCommand(process.argv.slice(2), io).then(
  ({ code, failed }) => {
    // A command that failed may leave handles open (a half-started server): exit now.
    if (failed) process.exit(code)
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`ambient: ${String(err)}\n`)
    process.exit(1)
  },
)
