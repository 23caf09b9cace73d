// Host and port as text, the way every log line and `:authority` writes them: IPv6 in brackets.
import net from 'node:net'

/** `1.2.3.4:80`, `[::1]:80`. */
export function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`
}
