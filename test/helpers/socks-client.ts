// Tests use the production SOCKS5 client (src/capture/socks5-client.ts).
export { connect, encodeRequest, readAll, readExactly, SocksClientError } from '../../src/capture/socks5-client.js'
export type { SocksClientErrorCode, SocksConnectOptions, SocksTarget } from '../../src/capture/socks5-client.js'
