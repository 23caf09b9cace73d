// The one mapping from an error to Istio's `response_flags` label (style rule 5: a wire value is
// chosen in exactly one place, never at throw sites). It keys on error codes only, never on text.
//
// Code conventions the rest of the project can rely on (the first matching row wins):
//
// | flag           | codes                                                                        |
// | -------------- | ---------------------------------------------------------------------------- |
// | DENY           | `AUTHZ_*`, `*_DENIED`, `FLOW_POLICY_CHANGE` (closed by a policy re-check)     |
// | NETWORK_POLICY | `*NETWORK_POLICY*`, `HBONE_CONNECT_TIMEOUT` (no answer on 15008: likely a     |
// |                | NetworkPolicy dropping HBONE, the case ztunnel's error text points at)        |
// | IDENTITY_ERROR | `IDENTITY_*`, `CA_*`, `*_NO_CERTIFICATE` (no usable workload certificate)      |
// | TLS_FAILURE    | `TLS_*`, Node's `ERR_TLS_*`/`ERR_SSL_*`, OpenSSL verify codes (`CERT_*`,      |
// |                | `UNABLE_TO_*`, `*SELF_SIGNED*`, `HOSTNAME_MISMATCH`), `*_SAN_MISMATCH`         |
// | CONNECT        | `*_CONNECT_FAILED`, `HBONE_CONNECT_*`, `*NO_HEALTHY_UPSTREAM`, Node's         |
// |                | `ECONNREFUSED`, `EHOSTUNREACH`, `ENETUNREACH`, `ETIMEDOUT`                    |
//
// An error whose own code maps to nothing is looked through along its `cause` chain, so a wrapper
// like `OUTBOUND_FAILED` caused by `ECONNREFUSED` still says CONNECT.
import { errorCode } from '../errors.js'
import type { ResponseFlag } from './traffic-labels.js'

const RULES: ReadonlyArray<readonly [RegExp, ResponseFlag]> = [
  [/^AUTHZ_|_DENIED$|^FLOW_POLICY_CHANGE$/, 'DENY'],
  [/NETWORK_POLICY|^HBONE_CONNECT_TIMEOUT$/, 'NETWORK_POLICY'],
  [/^IDENTITY_|^CA_|_NO_CERTIFICATE$/, 'IDENTITY_ERROR'],
  [/^TLS_|^ERR_TLS_|^ERR_SSL_|^CERT_|^UNABLE_TO_|SELF_SIGNED|^HOSTNAME_MISMATCH$|_SAN_MISMATCH$/, 'TLS_FAILURE'],
  [/_CONNECT_FAILED$|^HBONE_CONNECT_|NO_HEALTHY_UPSTREAM$|^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT)$/, 'CONNECT'],
]

// Causes deeper than this are not ours to interpret (and a cycle must not hang us).
const MAX_CAUSE_DEPTH = 8

export function responseFlagFor(err: unknown): ResponseFlag {
  let current = err
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    const code = errorCode(current)
    for (const [pattern, flag] of RULES) if (pattern.test(code)) return flag
    current = current instanceof Error ? current.cause : undefined
  }
  return '-'
}
