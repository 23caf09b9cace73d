// The options `ambient sidecar` and `ambient waypoint --xds` share to reach istiod: the xDS target,
// the node, and the node token / root certificate, given as files or taken from istiod's state
// directory (the files src/istiod/state-dir.ts writes). One place, so both proxies read them alike.
import { join } from 'node:path'
import { parseDurationOption, required } from '../args.js'

export const ISTIOD_CLIENT_SPEC = {
  xds: { type: 'string' },
  node: { type: 'string' },
  'istiod-state-dir': { type: 'string' },
  'token-file': { type: 'string' },
  'root-cert': { type: 'string' },
  'trust-domain': { type: 'string' },
  'sync-timeout': { type: 'string' },
} as const

export interface IstiodClientValues {
  readonly 'istiod-state-dir'?: string | undefined
  readonly 'token-file'?: string | undefined
  readonly 'root-cert'?: string | undefined
  readonly 'trust-domain'?: string | undefined
  readonly 'sync-timeout'?: string | undefined
}

export interface IstiodClientCredentials {
  readonly tokenFile: string
  readonly rootCertFile: string
  readonly trustDomain?: string
  readonly initialTimeoutMs: number
}

/** `node`'s token, the root certificate, trust domain and first-sync timeout: the flags, else the state directory's files. */
export function istiodClientCredentials(values: IstiodClientValues, node: string, usage: string): IstiodClientCredentials {
  const stateDir = values['istiod-state-dir']
  return {
    tokenFile:
      values['token-file'] ??
      (stateDir === undefined ? required(undefined, 'token-file', usage) : join(stateDir, 'tokens', `${node}.token`)),
    rootCertFile:
      values['root-cert'] ?? (stateDir === undefined ? required(undefined, 'root-cert', usage) : join(stateDir, 'ca', 'root-cert.pem')),
    ...(values['trust-domain'] === undefined ? {} : { trustDomain: values['trust-domain'] }),
    initialTimeoutMs: parseDurationOption(values['sync-timeout'] ?? '30s', 'sync-timeout'),
  }
}
