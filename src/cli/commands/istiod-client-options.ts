// The options `ambient sidecar`, `ambient waypoint --xds` and `ambient ztunnel --xds` share to reach
// istiod: the xDS target, the node, and the node token / root certificate, given as files or taken
// from istiod's state directory (the files src/istiod/state-dir.ts writes). One place, so the
// proxies read them alike.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AmbientError, errorMessage } from '../../errors.js'
import { parseDurationOption, required, stringOptions } from '../args.js'

/** istiod's address, the node, and where its token and root certificate are. */
export const ISTIOD_XDS_SPEC = stringOptions('xds', 'node', 'istiod-state-dir', 'token-file', 'root-cert')

/** ISTIOD_XDS_SPEC with the trust domain and the first-sync timeout (the sidecar's and the waypoint's). */
export const ISTIOD_CLIENT_SPEC = { ...ISTIOD_XDS_SPEC, ...stringOptions('trust-domain', 'sync-timeout') }

export const ISTIOD_FILES_USAGE = '(--istiod-state-dir D | --token-file F --root-cert F)'

export interface IstiodFileValues {
  readonly 'istiod-state-dir'?: string | undefined
  readonly 'token-file'?: string | undefined
  readonly 'root-cert'?: string | undefined
}

export interface IstiodClientValues extends IstiodFileValues {
  readonly 'trust-domain'?: string | undefined
  readonly 'sync-timeout'?: string | undefined
}

export interface IstiodFiles {
  readonly tokenFile: string
  readonly rootCertFile: string
}

export interface IstiodClientCredentials extends IstiodFiles {
  readonly trustDomain?: string
  readonly initialTimeoutMs: number
}

/** `node`'s token and the root certificate: the flags, else the state directory's files. */
export function istiodFiles(values: IstiodFileValues, node: string, usage: string): IstiodFiles {
  const stateDir = values['istiod-state-dir']
  return {
    tokenFile:
      values['token-file'] ??
      (stateDir === undefined ? required(undefined, 'token-file', usage) : join(stateDir, 'tokens', `${node}.token`)),
    rootCertFile:
      values['root-cert'] ?? (stateDir === undefined ? required(undefined, 'root-cert', usage) : join(stateDir, 'ca', 'root-cert.pem')),
  }
}

/**
 * Both files can be read now: a missing or unreadable one is a usage error naming it (exit 2), not
 * a bare ENOENT once the proxy has begun to start.
 */
export async function checkIstiodFiles(files: IstiodFiles): Promise<void> {
  for (const [what, file] of [
    ['node token', files.tokenFile],
    ['root certificate', files.rootCertFile],
  ] as const) {
    await readFile(file).catch((err: unknown) => {
      throw new AmbientError('CLI_USAGE', `cannot read the ${what} ${file}: ${errorMessage(err)}`, { side: 'config' })
    })
  }
}

/** istiodFiles, the trust domain and the first-sync timeout. */
export function istiodClientCredentials(values: IstiodClientValues, node: string, usage: string): IstiodClientCredentials {
  return {
    ...istiodFiles(values, node, usage),
    ...(values['trust-domain'] === undefined ? {} : { trustDomain: values['trust-domain'] }),
    initialTimeoutMs: parseDurationOption(values['sync-timeout'] ?? '30s', 'sync-timeout'),
  }
}
