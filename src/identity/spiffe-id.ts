// SPIFFE identities as Istio uses them: exactly `spiffe://<trust domain>/ns/<namespace>/sa/<sa>`.
// Parse at the edge: past this module an identity is a SpiffeId, never a raw string.
import { AmbientError } from '../errors.js'

export const DEFAULT_TRUST_DOMAIN = 'cluster.local'
export const DEFAULT_SERVICE_ACCOUNT = 'default'

export const SpiffeErrorCode = {
  invalid: 'IDENTITY_SPIFFE_INVALID',
} as const

// Trust domain: lowercase letters, digits, dots, dashes, underscores (SPIFFE spec §2.1).
const TRUST_DOMAIN = /^[a-z0-9._-]+$/
// Path segments: the SPIFFE spec allows [A-Za-z0-9.-_]; Kubernetes names are a subset of that.
const SEGMENT = /^[A-Za-z0-9._-]+$/

export class SpiffeId {
  readonly trustDomain: string
  readonly namespace: string
  readonly serviceAccount: string

  private constructor(trustDomain: string, namespace: string, serviceAccount: string) {
    this.trustDomain = trustDomain
    this.namespace = namespace
    this.serviceAccount = serviceAccount
    Object.freeze(this)
  }

  static of(parts: { trustDomain?: string; namespace: string; serviceAccount?: string }): SpiffeId {
    const td = parts.trustDomain ?? DEFAULT_TRUST_DOMAIN
    const sa = parts.serviceAccount ?? DEFAULT_SERVICE_ACCOUNT
    checkTrustDomain(td, `${td}`)
    for (const [what, v] of [
      ['namespace', parts.namespace],
      ['service account', sa],
    ] as const) {
      if (v === '.' || v === '..' || !SEGMENT.test(v)) throw invalid(`${what} "${v}" is not a valid SPIFFE path segment`, v)
    }
    return new SpiffeId(td, parts.namespace, sa)
  }

  static parse(uri: string): SpiffeId {
    if (typeof uri !== 'string') throw invalid('SPIFFE ID must be a string', String(uri))
    if (!uri.startsWith('spiffe://')) throw invalid('SPIFFE ID must start with spiffe://', uri)
    const rest = uri.slice('spiffe://'.length)
    const parts = rest.split('/')
    if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') {
      throw invalid('SPIFFE ID must be exactly spiffe://<trust domain>/ns/<namespace>/sa/<service account>', uri)
    }
    const [td, , ns, , sa] = parts as [string, string, string, string, string]
    checkTrustDomain(td, uri)
    for (const seg of [ns, sa]) {
      if (seg === '' || seg === '.' || seg === '..' || !SEGMENT.test(seg)) throw invalid(`invalid path segment "${seg}"`, uri)
    }
    return new SpiffeId(td, ns, sa)
  }

  /** The principal as Istio's authorization compares it: the URI without `spiffe://`. */
  get principal(): string {
    return `${this.trustDomain}/ns/${this.namespace}/sa/${this.serviceAccount}`
  }

  toString(): string {
    return `spiffe://${this.principal}`
  }

  toJSON(): string {
    return this.toString()
  }

  equals(other: SpiffeId | undefined): boolean {
    return other !== undefined && other.toString() === this.toString()
  }
}

function checkTrustDomain(td: string, input: string): void {
  if (td === '' || !TRUST_DOMAIN.test(td)) throw invalid(`trust domain "${td}" must be lowercase letters, digits, ".", "-" or "_"`, input)
}

function invalid(reason: string, input: string): AmbientError {
  return new AmbientError(SpiffeErrorCode.invalid, `invalid SPIFFE ID "${input}": ${reason}`, {
    side: 'config',
    details: { input },
  })
}
