// What the SOCKS5 server writes back (RFC 1928 §3 method selection, §6 replies), and the one place
// where a refusal becomes a reply code (errors map to the wire in exactly one function).
import { assertNever } from '../errors.js'
import type { CaptureRejectReason } from './capture.js'
import { SOCKS_VERSION } from './socks5-parser.js'

/** RFC 1928 §6 REP values we send. X'06' (TTL expired) is never used: timeouts map to X'04'. */
export const Socks5ReplyCode = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowedByRuleset: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const
export type Socks5ReplyCode = (typeof Socks5ReplyCode)[keyof typeof Socks5ReplyCode]

/** RFC 1928 §3: X'FF' NO ACCEPTABLE METHODS. */
export const METHOD_NONE_ACCEPTABLE = 0xff

/** Everything the server may refuse with: the proxy's reasons and the handshake's own. */
export type Socks5Refusal = CaptureRejectReason | 'command-not-supported' | 'address-type-not-supported' | 'malformed-request'

export function socks5ReplyCode(refusal: Socks5Refusal): Socks5ReplyCode {
  switch (refusal) {
    case 'policy-denied':
    case 'proxy-loop':
      return Socks5ReplyCode.notAllowedByRuleset
    case 'network-unreachable':
      return Socks5ReplyCode.networkUnreachable
    // curl and most clients print X'04' as "host unreachable", the closest to "nothing answered".
    case 'unknown-hostname':
    case 'no-healthy-endpoint':
    case 'upstream-timeout':
      return Socks5ReplyCode.hostUnreachable
    case 'upstream-refused':
      return Socks5ReplyCode.connectionRefused
    case 'command-not-supported':
      return Socks5ReplyCode.commandNotSupported
    case 'address-type-not-supported':
      return Socks5ReplyCode.addressTypeNotSupported
    case 'malformed-request':
    case 'internal':
      return Socks5ReplyCode.generalFailure
    default:
      return assertNever(refusal, 'SOCKS5 refusal')
  }
}

export function encodeMethodSelection(method: number): Buffer {
  return Buffer.from([SOCKS_VERSION, method])
}

/**
 * VER REP RSV ATYP BND.ADDR BND.PORT. BND is 0.0.0.0:0: the client's upstream leaves through a
 * tunnel, so there is no meaningful bound address to report, and clients (curl included) ignore it.
 */
export function encodeSocks5Reply(code: Socks5ReplyCode): Buffer {
  return Buffer.from([SOCKS_VERSION, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
}
