// Reconnect delays: ztunnel's xDS client backs off from 10 ms, doubling, up to 15 s, and starts
// over once a connection has delivered a response.

export interface BackoffOptions {
  readonly initialMs?: number
  readonly maxMs?: number
}

export const DEFAULT_BACKOFF = { initialMs: 10, maxMs: 15_000 } as const

export class Backoff {
  private readonly initialMs: number
  private readonly maxMs: number
  private nextMs: number

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? DEFAULT_BACKOFF.initialMs
    this.maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs
    this.nextMs = this.initialMs
  }

  /** The delay before the next attempt; each call doubles the following one, up to the cap. */
  next(): number {
    const delay = this.nextMs
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs)
    return delay
  }

  reset(): void {
    this.nextMs = this.initialMs
  }
}
