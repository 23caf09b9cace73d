import t from 'tap'
import { AmbientError } from '../../../src/errors.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { responseFlagFor } from '../../../src/observability/response-flags.js'

const ours = (code: string, cause?: unknown) => new AmbientError(code, 'x', cause === undefined ? {} : { cause })
const node = (code: string) => Object.assign(new Error(code), { code })

function invalidSpiffe(): unknown {
  try {
    SpiffeId.parse('spiffe://nope')
  } catch (err) {
    return err
  }
  return undefined
}

const table: Array<[string, unknown, string]> = [
  ['no error', undefined, '-'],
  ['null', null, '-'],
  ['a string', 'weird', '-'],
  ['authz deny', ours('AUTHZ_DENIED'), 'DENY'],
  ['waypoint rbac', ours('WAYPOINT_RBAC_DENIED'), 'DENY'],
  ['policy change', ours('FLOW_POLICY_CHANGE'), 'DENY'],
  ['drain', ours('FLOW_DRAIN'), '-'],
  ['network policy', ours('HBONE_NETWORK_POLICY'), 'NETWORK_POLICY'],
  ['15008 timeout', ours('HBONE_CONNECT_TIMEOUT'), 'NETWORK_POLICY'],
  ['identity', ours('IDENTITY_NO_CERTIFICATE'), 'IDENTITY_ERROR'],
  ['spiffe parse', invalidSpiffe(), 'IDENTITY_ERROR'],
  ['ca', ours('CA_UNAVAILABLE'), 'IDENTITY_ERROR'],
  ['our tls', ours('TLS_HANDSHAKE_FAILED'), 'TLS_FAILURE'],
  ['san mismatch', ours('HBONE_SAN_MISMATCH'), 'TLS_FAILURE'],
  ['node tls', node('ERR_TLS_CERT_ALTNAME_INVALID'), 'TLS_FAILURE'],
  ['openssl', node('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), 'TLS_FAILURE'],
  ['expired', node('CERT_HAS_EXPIRED'), 'TLS_FAILURE'],
  ['untrusted', node('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'TLS_FAILURE'],
  ['self signed', node('DEPTH_ZERO_SELF_SIGNED_CERT'), 'TLS_FAILURE'],
  ['refused', node('ECONNREFUSED'), 'CONNECT'],
  ['unreachable', node('EHOSTUNREACH'), 'CONNECT'],
  ['timeout', node('ETIMEDOUT'), 'CONNECT'],
  ['hbone connect', ours('HBONE_CONNECT_REFUSED'), 'CONNECT'],
  ['upstream', ours('OUTBOUND_CONNECT_FAILED'), 'CONNECT'],
  ['no endpoints', ours('LB_NO_HEALTHY_UPSTREAM'), 'CONNECT'],
  ['mid-flow reset is not a connect failure', node('ECONNRESET'), '-'],
  ['wrapper with a cause', ours('OUTBOUND_FAILED', node('ECONNREFUSED')), 'CONNECT'],
  ['own code wins over cause', ours('AUTHZ_DENIED', node('ECONNREFUSED')), 'DENY'],
  ['deep cause', ours('A', ours('B', ours('C', node('CERT_HAS_EXPIRED')))), 'TLS_FAILURE'],
]

for (const [name, err, flag] of table) {
  t.equal(responseFlagFor(err), flag, name)
}

t.test('a cause cycle does not hang', async (t) => {
  const a = ours('A')
  const b = ours('B', a)
  Object.defineProperty(a, 'cause', { value: b })
  t.equal(responseFlagFor(a), '-')
})
