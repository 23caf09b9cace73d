// Before a cluster starts anything: are the addresses and ports it is about to bind free? Each one
// is tried with a real bind (and released at once), so a second `cluster up`/`demo` on the same
// address plan is refused with the list of what is taken, instead of starting components that
// crash-loop on EADDRINUSE while the first cluster's istiod answers their health checks.
import net from 'node:net'

export interface PlannedAddress {
  readonly host: string
  readonly port: number
  /** What would bind it: `istiod xDS+CA`, `ztunnel node-1 readiness`, … */
  readonly what: string
}

export interface TakenAddress extends PlannedAddress {
  readonly reason: string
}

/** The planned addresses that cannot be bound now (in use, or not an address of this host). */
export async function takenAddresses(addresses: readonly PlannedAddress[]): Promise<TakenAddress[]> {
  const results = await Promise.all(
    addresses.map(async (a) => {
      const reason = await tryBind(a.host, a.port)
      return reason === undefined ? undefined : { ...a, reason }
    }),
  )
  return results.filter((r): r is TakenAddress => r !== undefined)
}

function tryBind(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE' ? 'in use' : (err.code ?? err.message)))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)))
  })
}
