// `ambient ui [--state-dir .ambient] [--port 20001] [--host 127.0.0.1]`: the dashboard for the cluster
// `ambient cluster up` runs from the same state directory (src/ui). Runs until Ctrl-C; a cluster that
// is not (yet) running is shown as such and picked up when it starts.
import { resolve } from 'node:path'
import { createUiServer, UI_DEFAULT_PORT } from '../../ui/server.js'
import { PORT_MAX } from '../../net/address.js'
import { AmbientError, isAmbientError } from '../../errors.js'
import { intOption, parseCommandArgs } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE = 'ambient ui [--state-dir .ambient] [--port 20001] [--host 127.0.0.1]'

export const uiCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, { 'state-dir': { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, USAGE)
  const port = values.port === undefined ? UI_DEFAULT_PORT : intOption(values.port, 'port', 0, PORT_MAX)
  const stateDir = resolve(io.cwd, values['state-dir'] ?? '.ambient')
  const ui = createUiServer({ stateDir, host: values.host ?? '127.0.0.1', port })
  const address = await ui.start().catch((err: unknown) => {
    if (!isAmbientError(err, 'NET_ADDRESS_IN_USE') && (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    // `npm run demo` serves this same dashboard on 20001: say so rather than a bare EADDRINUSE.
    throw new AmbientError(
      'UI_PORT_IN_USE',
      `${values.host ?? '127.0.0.1'}:${port} is in use — a running \`ambient demo\` already serves this ` +
        `dashboard there (open http://127.0.0.1:${port}/); or pick another port with --port 0`,
      { side: 'config', cause: err },
    )
  })
  io.stdout(`ambient ui: http://${address.address}:${address.port}/  (cluster state from ${stateDir}; Ctrl-C stops)\n`)
  await io.stopSignal
  await ui.close()
  return EXIT_OK
}
