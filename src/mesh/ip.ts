// Address keys of the mesh model. IP text in mesh state is canonical (src/net/ip.ts parses it at the
// edge); this adds the key ztunnel's address indexes use.

/** `network/ip`, the key ztunnel's address indexes use (network '' is the default network). */
export function networkAddressKey(network: string, ip: string): string {
  return `${network}/${ip}`
}
