// The server side of the SOCKS5 handshake (RFC 1928) as a pure state machine: bytes in, a new state
// and what to do out. No sockets, no timers, so every partial read (a greeting and request in one
// packet, or byte by byte) is a table test. src/capture/socks5.ts does the I/O.
//
//   greeting  +----+----------+----------+      request  +----+-----+-------+------+----------+----------+
//   (RFC §3)  |VER | NMETHODS | METHODS  |      (RFC §4) |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
//             | 1  |    1     | 1 to 255 |               | 1  |  1  | X'00' |  1   | Variable |    2     |
//
// Invariants: the parser consumes at most one greeting and one request; bytes after the request are
// the application's payload and come back untouched in `payload`. A failed or done state ignores
// further input. Only NO AUTHENTICATION REQUIRED (X'00') and CONNECT are supported, as in
// ztunnel's SOCKS5 listener: the listener's address already identifies the pod, so there is
// nothing to authenticate.
import ipaddr from 'ipaddr.js'
import { isIP } from 'node:net'
import type { OriginalDestination } from './capture.js'

export const SOCKS_VERSION = 0x05
/** RFC 1928 §3: X'00' NO AUTHENTICATION REQUIRED. */
export const METHOD_NO_AUTH = 0x00

const CMD_CONNECT = 0x01
const ATYP_IPV4 = 0x01
const ATYP_DOMAIN = 0x03
const ATYP_IPV6 = 0x04

/** Bytes before DST.ADDR: VER CMD RSV ATYP. */
const REQUEST_HEADER_LENGTH = 4
const PORT_LENGTH = 2

export type Socks5ProtocolError =
  /** Not SOCKS5 at all (an HTTP request, SOCKS4, garbage): close without a reply. */
  | { readonly code: 'bad-version'; readonly phase: 'greeting' | 'request'; readonly version: number }
  /** The client offers no method we accept: reply X'FF' (RFC §3) and close. */
  | { readonly code: 'no-acceptable-method'; readonly methods: readonly number[] }
  /** BIND, UDP ASSOCIATE or an unknown command: reply X'07'. */
  | { readonly code: 'command-not-supported'; readonly command: number }
  /** ATYP other than 1, 3, 4: reply X'08'. */
  | { readonly code: 'address-type-not-supported'; readonly addressType: number }
  /** Well-framed but unusable: empty or invalid domain name, port 0. Reply X'01'. */
  | { readonly code: 'malformed-request'; readonly detail: string }

export type Socks5ParserState =
  | { readonly phase: 'greeting'; readonly buffered: Buffer }
  | { readonly phase: 'request'; readonly buffered: Buffer }
  | { readonly phase: 'done' }
  | { readonly phase: 'failed'; readonly error: Socks5ProtocolError }

export type Socks5ParserOutput =
  /** Greeting accepted: answer with method X'00'. */
  | { readonly kind: 'method-selected'; readonly method: typeof METHOD_NO_AUTH }
  /** A CONNECT request; `payload` holds whatever the client sent after it (maybe empty). */
  | { readonly kind: 'connect'; readonly destination: OriginalDestination; readonly payload: Buffer }
  | { readonly kind: 'failed'; readonly error: Socks5ProtocolError }

export interface Socks5Step {
  readonly state: Socks5ParserState
  readonly outputs: readonly Socks5ParserOutput[]
}

const EMPTY = Buffer.alloc(0)

export function initialSocks5State(): Socks5ParserState {
  return { phase: 'greeting', buffered: EMPTY }
}

/** Feeds one chunk. Outputs are in wire order; a 'connect' or 'failed' output is always the last. */
export function feedSocks5(state: Socks5ParserState, chunk: Buffer): Socks5Step {
  if (state.phase === 'done' || state.phase === 'failed') return { state, outputs: [] }
  const outputs: Socks5ParserOutput[] = []
  let input = state.buffered.length === 0 ? chunk : Buffer.concat([state.buffered, chunk])
  let phase: 'greeting' | 'request' = state.phase

  if (phase === 'greeting') {
    const greeting = parseGreeting(input)
    if (greeting.kind === 'incomplete') return { state: { phase, buffered: input }, outputs }
    if (greeting.kind === 'failed') return fail(greeting.error, outputs)
    outputs.push({ kind: 'method-selected', method: METHOD_NO_AUTH })
    // Clients may send the request without waiting for the method selection (optimistic clients).
    input = input.subarray(greeting.consumed)
    phase = 'request'
  }

  const request = parseRequest(input)
  if (request.kind === 'incomplete') return { state: { phase, buffered: input }, outputs }
  if (request.kind === 'failed') return fail(request.error, outputs)
  outputs.push({ kind: 'connect', destination: request.destination, payload: input.subarray(request.consumed) })
  return { state: { phase: 'done' }, outputs }
}

function fail(error: Socks5ProtocolError, outputs: Socks5ParserOutput[]): Socks5Step {
  outputs.push({ kind: 'failed', error })
  return { state: { phase: 'failed', error }, outputs }
}

type Parsed<T> =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'failed'; readonly error: Socks5ProtocolError }
  | ({ readonly kind: 'ok'; readonly consumed: number } & T)

const INCOMPLETE = { kind: 'incomplete' } as const

function parseGreeting(input: Buffer): Parsed<object> {
  // Check the version on the first byte so garbage fails fast instead of waiting for more.
  const version = input[0]
  if (version === undefined) return INCOMPLETE
  if (version !== SOCKS_VERSION) return { kind: 'failed', error: { code: 'bad-version', phase: 'greeting', version } }
  const methodCount = input[1]
  if (methodCount === undefined || input.length < 2 + methodCount) return INCOMPLETE
  const methods = [...input.subarray(2, 2 + methodCount)]
  if (!methods.includes(METHOD_NO_AUTH)) return { kind: 'failed', error: { code: 'no-acceptable-method', methods } }
  return { kind: 'ok', consumed: 2 + methodCount }
}

function parseRequest(input: Buffer): Parsed<{ readonly destination: OriginalDestination }> {
  const version = input[0]
  if (version === undefined) return INCOMPLETE
  if (version !== SOCKS_VERSION) return { kind: 'failed', error: { code: 'bad-version', phase: 'request', version } }
  // Refuse a command or address type as soon as its byte arrives: RFC §6 lets the server reply
  // and close once it knows it cannot serve the request.
  const command = input[1]
  if (command === undefined) return INCOMPLETE
  if (command !== CMD_CONNECT) return { kind: 'failed', error: { code: 'command-not-supported', command } }
  const addressType = input[3]
  if (addressType === undefined) return INCOMPLETE
  const address = parseAddress(addressType, input.subarray(REQUEST_HEADER_LENGTH))
  if (address.kind !== 'ok') return address
  const portAt = REQUEST_HEADER_LENGTH + address.consumed
  if (input.length < portAt + PORT_LENGTH) return INCOMPLETE
  const port = input.readUInt16BE(portAt)
  if (port === 0) return { kind: 'failed', error: { code: 'malformed-request', detail: 'destination port 0' } }
  const destination: OriginalDestination =
    address.host.kind === 'ip' ? { kind: 'ip', ip: address.host.value, port } : { kind: 'hostname', hostname: address.host.value, port }
  return { kind: 'ok', consumed: portAt + PORT_LENGTH, destination }
}

type Host = { readonly kind: 'ip' | 'hostname'; readonly value: string }

function parseAddress(addressType: number, input: Buffer): Parsed<{ readonly host: Host }> {
  switch (addressType) {
    case ATYP_IPV4:
    case ATYP_IPV6: {
      const length = addressType === ATYP_IPV4 ? 4 : 16
      if (input.length < length) return INCOMPLETE
      return { kind: 'ok', consumed: length, host: { kind: 'ip', value: canonicalIp([...input.subarray(0, length)]) } }
    }
    case ATYP_DOMAIN: {
      const length = input[0]
      if (length === undefined) return INCOMPLETE
      if (length === 0) return { kind: 'failed', error: { code: 'malformed-request', detail: 'empty domain name' } }
      if (input.length < 1 + length) return INCOMPLETE
      return domainHost(input.subarray(1, 1 + length).toString('latin1'), 1 + length)
    }
    default:
      return { kind: 'failed', error: { code: 'address-type-not-supported', addressType } }
  }
}

// Letters, digits, hyphen, underscore (SRV-style labels) and dots; a trailing dot marks an absolute
// name and is kept, because hostname resolution treats it differently (RFC 1034 §3.1).
const HOSTNAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/

function domainHost(raw: string, consumed: number): Parsed<{ readonly host: Host }> {
  // socks5h clients may still send an IP literal as a domain name; treat it as the IP it is.
  if (isIP(raw) !== 0) return { kind: 'ok', consumed, host: { kind: 'ip', value: ipaddr.process(raw).toString() } }
  // DNS names are case-insensitive (RFC 4343): compare and look up in lower case.
  const hostname = raw.toLowerCase()
  if (!HOSTNAME.test(hostname)) {
    return { kind: 'failed', error: { code: 'malformed-request', detail: `invalid domain name ${JSON.stringify(raw)}` } }
  }
  return { kind: 'ok', consumed, host: { kind: 'hostname', value: hostname } }
}

/**
 * Canonical text as the mesh stores addresses (src/mesh/types.ts): dotted IPv4, RFC 5952 IPv6.
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4 address it carries.
 */
function canonicalIp(bytes: number[]): string {
  const address = ipaddr.fromByteArray(bytes)
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (address as ipaddr.IPv6).toIPv4Address().toString()
  }
  return address.toString()
}
