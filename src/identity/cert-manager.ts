// Workload certificates for the identities a node proxies, in the manner of ztunnel's SecretManager:
// fetched on first use, shared by concurrent callers, renewed at half of their lifetime, and on a
// failed renewal retried with exponential backoff while the old certificate is served until it
// expires. Time is injected (now + setTimer) so tests drive renewals without sleeping.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { AmbientError, errorCode, errorMessage } from '../errors.js'
import type { WorkloadCertificate, CertificateInfo } from './certificate.js'
import { certificateInfo, chainProblem, workloadCertificate } from './certificate.js'
import { createCsr } from './certification-request.js'
import type { CertificateSigner } from './signer.js'
import type { SpiffeId } from './spiffe-id.js'

export const CertManagerErrorCode = {
  unavailable: 'IDENTITY_CERT_UNAVAILABLE',
  badResponse: 'IDENTITY_CA_RESPONSE_INVALID',
  closed: 'IDENTITY_CERT_MANAGER_CLOSED',
} as const

export type CertificateState =
  | 'pending' // first request in flight, nothing to serve yet
  | 'available' // valid certificate, renewal scheduled
  | 'renewing' // valid certificate, renewal in flight
  | 'renewing-failed' // valid certificate, last renewal failed, retry scheduled
  | 'expired' // the certificate expired before a renewal succeeded; retries continue
  | 'unavailable' // never obtained one; retries continue

export interface CertificateEvent {
  readonly identity: SpiffeId
  readonly certificate: WorkloadCertificate
  /** undefined for the first certificate of an identity. */
  readonly previous: WorkloadCertificate | undefined
}

/** The logging surface we need; a pino logger fits it. */
export interface IdentityLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export type SetTimer = (callback: () => void, delayMs: number) => { cancel(): void }

export interface CertificateManagerOptions {
  readonly signer: CertificateSigner
  readonly now?: () => number
  readonly setTimer?: SetTimer
  /** Requested lifetime; 24 h as Istio's default. */
  readonly ttlMs?: number
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number }
  readonly logger?: IdentityLogger
}

export interface CertificateManager {
  /** A valid certificate for `identity`, fetching it on first use. Concurrent calls share one request. */
  get(identity: SpiffeId): Promise<WorkloadCertificate>
  /** The certificate being served now, if any and not expired. */
  current(identity: SpiffeId): WorkloadCertificate | undefined
  state(identity: SpiffeId): CertificateState | undefined
  /** One row per identity, for config dumps. */
  dump(): Array<CertificateInfo | { identity: string; state: CertificateState }>
  /** Called with every new certificate (first and rotations); returns the unsubscribe function. */
  subscribe(listener: (event: CertificateEvent) => void): () => void
  /** Stops renewing `identity` and drops its certificate (its workload left the node). */
  forget(identity: SpiffeId): void
  close(): Promise<void>
}

interface Entry {
  readonly identity: SpiffeId
  cert: WorkloadCertificate | undefined
  inflight: Promise<WorkloadCertificate> | undefined
  timer: { cancel(): void } | undefined
  failures: number
  lastError: unknown
}

// setTimeout fires at once for delays past 2^31-1 ms (~24.8 days): long waits are chained.
const MAX_TIMER_MS = 2 ** 31 - 1

const realSetTimer: SetTimer = (callback, delayMs) => {
  const handle = setTimeout(callback, delayMs)
  handle.unref() // a pending renewal must not keep the process alive
  return { cancel: () => clearTimeout(handle) }
}

export function createCertificateManager(options: CertificateManagerOptions): CertificateManager {
  const now = options.now ?? Date.now
  const setTimer = options.setTimer ?? realSetTimer
  const ttlMs = options.ttlMs ?? 24 * 3_600_000
  const initialBackoffMs = options.backoff?.initialMs ?? 100
  const maxBackoffMs = options.backoff?.maxMs ?? 30_000
  const entries = new Map<string, Entry>()
  const listeners = new Set<(event: CertificateEvent) => void>()
  let closed = false

  const valid = (cert: WorkloadCertificate | undefined): cert is WorkloadCertificate =>
    cert !== undefined && now() < cert.notAfter.getTime()

  function stateOf(e: Entry): CertificateState {
    if (e.cert === undefined) return e.failures > 0 && e.inflight === undefined ? 'unavailable' : 'pending'
    if (!valid(e.cert)) return 'expired'
    if (e.inflight) return 'renewing'
    return e.failures > 0 ? 'renewing-failed' : 'available'
  }

  function scheduleAt(e: Entry, atMs: number, action: () => void): void {
    e.timer?.cancel()
    const delay = Math.max(0, atMs - now())
    e.timer = setTimer(
      () => {
        e.timer = undefined
        if (now() < atMs)
          scheduleAt(e, atMs, action) // woke early: a chained long wait
        else action()
      },
      Math.min(delay, MAX_TIMER_MS),
    )
  }

  async function requestCertificate(identity: SpiffeId): Promise<WorkloadCertificate> {
    const { csrPem, keyPem } = await createCsr(identity)
    const { certChainPem } = await options.signer.sign({ csrPem, ttlMs, identity })
    let cert: WorkloadCertificate
    try {
      cert = workloadCertificate({ keyPem, chainPem: certChainPem })
    } catch (err) {
      throw badResponse(`CA answer for ${identity} is not a usable chain: ${errorMessage(err)}`, err)
    }
    if (!cert.identity.equals(identity)) throw badResponse(`CA issued ${cert.identity} when asked for ${identity}`)
    if (!new X509Certificate(cert.certChainPem[0]!).checkPrivateKey(createPrivateKey(keyPem))) {
      throw badResponse(`CA answer for ${identity} does not certify our key`)
    }
    const problem = chainProblem(cert.certChainPem, cert.rootsPem, now())
    if (problem !== undefined) throw badResponse(`CA answer for ${identity}: ${problem}`)
    return cert
  }

  function fetch(e: Entry): Promise<WorkloadCertificate> {
    if (e.inflight) return e.inflight
    e.timer?.cancel()
    e.timer = undefined
    const attempt = requestCertificate(e.identity)
    e.inflight = attempt
    const current = () => !closed && entries.get(e.identity.toString()) === e
    attempt.then(
      (cert) => {
        if (!current()) return
        const previous = e.cert
        Object.assign(e, { cert, inflight: undefined, failures: 0, lastError: undefined })
        const lifetimeMs = cert.notAfter.getTime() - cert.notBefore.getTime()
        // Renew at half-life, never sooner than one backoff step (guards a CA issuing tiny TTLs).
        scheduleAt(e, Math.max(cert.notBefore.getTime() + lifetimeMs / 2, now() + initialBackoffMs), () => void fetch(e))
        options.logger?.info(
          { identity: e.identity.toString(), serial: cert.serialNumber, expires: cert.notAfter.toISOString() },
          previous ? 'certificate rotated' : 'certificate issued',
        )
        announce({ identity: e.identity, certificate: cert, previous })
      },
      (err: unknown) => {
        if (!current()) return
        Object.assign(e, { inflight: undefined, failures: e.failures + 1, lastError: err })
        const delayMs = Math.min(initialBackoffMs * 2 ** (e.failures - 1), maxBackoffMs)
        options.logger?.warn(
          {
            identity: e.identity.toString(),
            code: errorCode(err),
            err: errorMessage(err),
            failures: e.failures,
            retryInMs: delayMs,
            state: stateOf(e),
          },
          'certificate request failed',
        )
        scheduleAt(e, now() + delayMs, () => void fetch(e))
      },
    )
    return attempt
  }

  function announce(event: CertificateEvent): void {
    for (const listener of listeners) {
      try {
        listener(event)
      } catch (err) {
        options.logger?.warn({ identity: event.identity.toString(), err: errorMessage(err) }, 'certificate listener threw')
      }
    }
  }

  return {
    async get(identity) {
      if (closed) throw new AmbientError(CertManagerErrorCode.closed, 'certificate manager is closed')
      const key = identity.toString()
      let e = entries.get(key)
      if (e === undefined) {
        e = { identity, cert: undefined, inflight: undefined, timer: undefined, failures: 0, lastError: undefined }
        entries.set(key, e)
      }
      if (valid(e.cert)) return e.cert
      if (e.inflight) return e.inflight
      // Backing off after a failure: fail fast instead of hammering the CA; the retry is scheduled.
      if (e.failures > 0 && e.timer !== undefined) {
        throw new AmbientError(CertManagerErrorCode.unavailable, `no valid certificate for ${identity}: ${errorMessage(e.lastError)}`, {
          cause: e.lastError,
          details: { failures: e.failures },
        })
      }
      return fetch(e)
    },
    current(identity) {
      const cert = entries.get(identity.toString())?.cert
      return valid(cert) ? cert : undefined
    },
    state(identity) {
      const e = entries.get(identity.toString())
      return e && stateOf(e)
    },
    dump() {
      return [...entries.values()].map((e) =>
        e.cert ? certificateInfo(e.cert, now(), stateOf(e)) : { identity: e.identity.toString(), state: stateOf(e) },
      )
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    forget(identity) {
      const key = identity.toString()
      entries.get(key)?.timer?.cancel()
      entries.delete(key)
    },
    async close() {
      closed = true
      for (const e of entries.values()) e.timer?.cancel()
      entries.clear()
      listeners.clear()
    },
  }
}

function badResponse(message: string, cause?: unknown): AmbientError {
  return new AmbientError(CertManagerErrorCode.badResponse, message, { side: 'upstream', cause })
}

/** Calls `apply` with every new certificate of one identity (the first and each rotation); returns the unsubscribe function. */
export function onCertificate(
  certificates: Pick<CertificateManager, 'subscribe'>,
  identity: SpiffeId,
  apply: (certificate: WorkloadCertificate) => void,
): () => void {
  return certificates.subscribe((e) => {
    if (e.identity.equals(identity)) apply(e.certificate)
  })
}
