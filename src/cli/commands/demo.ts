// `ambient demo [--duration 30s] [--no-tour] [--rate 5]`: `cluster up` on deploy/demo with traffic,
// a live summary and a policy tour; see src/cluster/demo.ts. It runs from ./.ambient (like `cluster
// up`), so the inspection commands find it without flags; the address-plan flags are `cluster up`'s.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runDemo } from '../../cluster/demo.js'
import { createUiServer, UI_DEFAULT_PORT } from '../../ui/server.js'
import { PORT_MAX } from '../../net/address.js'
import { AmbientError } from '../../errors.js'
import { flagOptions, intOption, numberOption, parseCommandArgs, parseDurationOption, stringOptions } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'
import { CLUSTER_PLAN_SPEC, CLUSTER_PLAN_USAGE, clusterPlan, stateDirOf } from './cluster-options.js'

const USAGE = `ambient demo [--duration 30s] [--no-tour] [--rate 5] [--ui-port 20001] ${CLUSTER_PLAN_USAGE}`

const OPTIONS = { ...stringOptions('duration', 'rate', 'ui-port'), ...flagOptions('no-tour'), ...CLUSTER_PLAN_SPEC }

export const demoCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, OPTIONS, USAGE)
  const durationMs = values.duration === undefined ? undefined : parseDurationOption(values.duration, 'duration')
  if (durationMs === 0) throw new AmbientError('CLI_BAD_DURATION', '--duration: must be more than 0', { side: 'config' })
  const rate = values.rate === undefined ? 5 : numberOption(values.rate, 'rate', 0.1, 1000)
  const uiPort = values['ui-port'] === undefined ? undefined : intOption(values['ui-port'], 'ui-port', 0, PORT_MAX)
  const plan = clusterPlan(values, USAGE, { nodes: 2, logLevel: 'warn' })
  const cliPath = fileURLToPath(new URL('../main.js', import.meta.url))
  // The repository's ./ambient launcher when run from the checkout (npm run demo), else the full path.
  const launcher = fileURLToPath(new URL('../../../ambient', import.meta.url))
  const cliHint = existsSync(launcher) && resolve(io.cwd, 'ambient') === launcher ? './ambient' : `node ${cliPath}`
  await runDemo({
    cliPath,
    cliHint,
    // dist/cli/commands/demo.js → the package's deploy/demo.
    scenarioDir: fileURLToPath(new URL('../../../deploy/demo', import.meta.url)),
    ...(durationMs === undefined ? {} : { durationMs }),
    stop: io.stopSignal,
    out: (line) => io.stdout(line + '\n'),
    live: process.stdout.isTTY === true,
    tour: values['no-tour'] !== true,
    rate,
    env: io.env,
    stateDir: stateDirOf(io.cwd, values['state-dir']),
    ...(values['state-dir'] === undefined ? {} : { stateDirFlag: ` --state-dir ${values['state-dir']}` }),
    plan,
    dashboard: (stateDir) => createUiServer({ stateDir, port: uiPort ?? UI_DEFAULT_PORT }),
  })
  return EXIT_OK
}
