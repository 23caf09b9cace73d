// IP addresses as the workload API carries them: 4 (IPv4) or 16 (IPv6) raw bytes. The domain side
// is canonical text (src/net/ip.ts); IPv4-mapped IPv6 bytes fold to IPv4 text there too.
import ipaddr from 'ipaddr.js'
import { canonicalIp, parseIp } from '../net/ip.js'
import { AmbientError } from '../errors.js'
import { XdsErrorCode } from './errors.js'

/** Canonical IP text of 4 or 16 bytes; throws XDS_RESOURCE_INVALID for any other length. */
export function ipFromBytes(bytes: Uint8Array, what: string): string {
  // Four bytes print as the dotted quad directly (canonical IPv4 text): every workload has one, so
  // this is the decode path's hot case; 16 bytes go through the parser (RFC 5952, mapped folding).
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
  if (bytes.length !== 16) {
    throw new AmbientError(XdsErrorCode.resourceInvalid, `${what}: an IP address has 4 or 16 bytes, found ${bytes.length}`, {
      side: 'upstream',
    })
  }
  return canonicalIp(ipaddr.fromByteArray(Array.from(bytes)).toString())!
}

/** Raw bytes of IP text; throws XDS_ENCODE_INVALID if it is not an address. */
export function ipToBytes(text: string, what: string): Uint8Array {
  const ip = parseIp(text)
  if (ip === undefined) throw new AmbientError(XdsErrorCode.encodeInvalid, `${what}: "${text}" is not an IP address`, { side: 'internal' })
  return Uint8Array.from(ip.toByteArray())
}
