// `ambient demo [--duration 30s] [--no-tour] [--rate 5]`: `cluster up` on deploy/demo with traffic,
// a live summary and a policy tour; see src/cluster/demo.ts.
import { fileURLToPath } from 'node:url'
import { runDemo } from '../../cluster/demo.js'
import { parseCommandArgs, parseDurationOption } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE = 'ambient demo [--duration 30s] [--no-tour] [--rate 5]'

export const demoCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, { duration: { type: 'string' }, 'no-tour': { type: 'boolean' }, rate: { type: 'string' } }, USAGE)
  const durationMs = values.duration === undefined ? undefined : parseDurationOption(values.duration, 'duration')
  await runDemo({
    cliPath: fileURLToPath(new URL('../main.js', import.meta.url)),
    // dist/cli/commands/demo.js → the package's deploy/demo.
    scenarioDir: fileURLToPath(new URL('../../../deploy/demo', import.meta.url)),
    ...(durationMs === undefined ? {} : { durationMs }),
    stop: io.stopSignal,
    out: (line) => io.stdout(line + '\n'),
    live: process.stdout.isTTY === true,
    tour: values['no-tour'] !== true,
    rate: values.rate === undefined ? 5 : Number(values.rate),
    env: io.env,
  })
  return EXIT_OK
}
