// `ambient ca init`: create the mesh CA in a directory, or load and describe the one already there.
import { resolve } from 'node:path'
import { openMeshCa } from '../../identity/ca.js'
import { AmbientError } from '../../errors.js'
import { parseCommandArgs, required, withHelp } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE = 'ambient ca init --dir D [--trust-domain T]'

export const caCommand: Command = withHelp(`usage: ${USAGE}\n`, async (argv, io) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' }, 'trust-domain': { type: 'string' } }, USAGE, true)
  const [sub, ...extra] = positionals
  if (sub !== 'init' || extra.length > 0)
    throw new AmbientError('CLI_USAGE', `expected the subcommand "init"\nusage: ${USAGE}`, { side: 'config' })
  const dir = resolve(io.cwd, required(values.dir, 'dir', USAGE))
  const trustDomain = values['trust-domain']
  const ca = await openMeshCa({ dir, ...(trustDomain !== undefined ? { trustDomain } : {}) })
  io.stdout(`${ca.created ? 'created' : 'loaded'} mesh CA\n  trust domain: ${ca.trustDomain}\n  root: ${ca.rootCertPath}\n`)
  return EXIT_OK
})
