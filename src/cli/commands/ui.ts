// `ambient ui [--state-dir .ambient] [--port 20001] [--host 127.0.0.1]`: the dashboard for the cluster
// `ambient cluster up` runs from the same state directory (src/ui). Runs until Ctrl-C; a cluster that
// is not (yet) running is shown as such and picked up when it starts.
import { resolve } from 'node:path'
import { createUiServer, UI_DEFAULT_PORT } from '../../ui/server.js'
import { AmbientError } from '../../errors.js'
import { parseCommandArgs } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'
import { isValidPort } from '../../net/address.js'

const USAGE = 'ambient ui [--state-dir .ambient] [--port 20001] [--host 127.0.0.1]'

export const uiCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, { 'state-dir': { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, USAGE)
  const port = Number(values.port ?? UI_DEFAULT_PORT)
  if (!isValidPort(port, 0)) throw new AmbientError('CLI_USAGE', `--port: "${values.port}" is not a port\nusage: ${USAGE}`, { side: 'config' })
  const stateDir = resolve(io.cwd, values['state-dir'] ?? '.ambient')
  const ui = createUiServer({ stateDir, host: values.host ?? '127.0.0.1', port })
  const address = await ui.start()
  io.stdout(`ambient ui: http://${address.address}:${address.port}/  (cluster state from ${stateDir}; Ctrl-C stops)\n`)
  await io.stopSignal
  await ui.close()
  return EXIT_OK
}
