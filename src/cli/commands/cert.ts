// `ambient cert issue`: a workload certificate from an existing mesh CA, written as the three files
// a TLS endpoint needs: cert.pem (leaf, then intermediates), key.pem (0600) and root.pem.
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CaErrorCode, openMeshCa } from '../../identity/ca.js'
import { SpiffeId } from '../../identity/spiffe-id.js'
import { AmbientError, isAmbientError } from '../../errors.js'
import { parseCommandArgs, parseDurationOption, required, withHelp } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE = 'ambient cert issue --ca-dir D --spiffe ID --out DIR [--ttl 1h]'

export const certCommand: Command = withHelp(`usage: ${USAGE}\n`, async (argv, io) => {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      'ca-dir': { type: 'string' },
      spiffe: { type: 'string' },
      out: { type: 'string' },
      ttl: { type: 'string' },
    },
    USAGE,
    true,
  )
  const [sub, ...extra] = positionals
  if (sub !== 'issue' || extra.length > 0)
    throw new AmbientError('CLI_USAGE', `expected the subcommand "issue"\nusage: ${USAGE}`, { side: 'config' })
  const caDir = resolve(io.cwd, required(values['ca-dir'], 'ca-dir', USAGE))
  const identity = SpiffeId.parse(required(values.spiffe, 'spiffe', USAGE))
  const out = resolve(io.cwd, required(values.out, 'out', USAGE))
  const ttlMs = values.ttl === undefined ? undefined : parseDurationOption(values.ttl, 'ttl')

  const ca = await openMeshCa({ dir: caDir, ifMissing: 'fail' })
  const cert = await ca.issue(identity, ttlMs === undefined ? {} : { ttlMs }).catch((err: unknown) => {
    // What the CA refuses from a remote caller is, here, a mistake on the command line.
    if (isAmbientError(err, CaErrorCode.trustDomainMismatch) || isAmbientError(err, CaErrorCode.ttlInvalid)) {
      throw new AmbientError(err.code, err.message, { side: 'config', cause: err })
    }
    throw err
  })

  await mkdir(out, { recursive: true })
  const paths = { cert: join(out, 'cert.pem'), key: join(out, 'key.pem'), root: join(out, 'root.pem') }
  await writeFile(paths.key, cert.keyPem, { mode: 0o600 })
  await chmod(paths.key, 0o600) // writeFile's mode applies only to a file it creates
  await writeFile(paths.cert, cert.certChainPem.join(''))
  await writeFile(paths.root, cert.rootsPem.join(''))
  io.stdout(
    `issued ${identity}\n  serial: ${cert.serialNumber}\n  expires: ${cert.notAfter.toISOString()}\n` +
      `  cert: ${paths.cert}\n  key: ${paths.key}\n  root: ${paths.root}\n`,
  )
  return EXIT_OK
})
