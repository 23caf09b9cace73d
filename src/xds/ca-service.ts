// istiod's CA over gRPC: `istio.v1.auth.IstioCertificateService/CreateCertificate`. Checks, in
// order: bearer token → caller (UNAUTHENTICATED); CSR parses and its signature verifies
// (INVALID_ARGUMENT); the `ImpersonatedIdentity` metadata, when given, names the CSR's identity
// (INVALID_ARGUMENT); the caller may hold that identity (PERMISSION_DENIED): for a node proxy,
// only identities of pods scheduled on its node (Istio's node authorizer); then signing, with the
// requested validity capped at maxTtlMs.
import { AmbientError, errorCode, errorMessage } from '../errors.js'
import type { MeshCa } from '../identity/ca.js'
import { DEFAULT_MAX_WORKLOAD_TTL_MS, DEFAULT_WORKLOAD_TTL_MS } from '../identity/ca.js'
import { parseCsr } from '../identity/csr.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import { childLogger, createLogger } from '../observability/logger.js'
import type { Logger } from '../observability/logger.js'
import { bearerToken } from './bearer-token.js'
import { XdsErrorCode } from './errors.js'
import { grpcCodeName } from './grpc/codes.js'
import type { CertificateRequest, CertificateResponse } from './grpc-definitions.js'
import { IMPERSONATED_IDENTITY, ISTIO_CERTIFICATE_SERVICE } from './grpc-definitions.js'
import type { GrpcServerCall, GrpcServiceBinding } from './grpc-server.js'
import { toGrpcStatus } from './grpc-status.js'

export { IMPERSONATED_IDENTITY }

export interface CaServiceOptions {
  readonly ca: Pick<MeshCa, 'signCsr'>
  /** The caller a bearer token belongs to (a node name for ztunnel), or undefined to refuse. */
  authenticate(token: string): string | undefined | Promise<string | undefined>
  /**
   * May `caller` obtain a certificate for `identity`? For a node: is a pod with this identity
   * scheduled on it. Asked for every request, impersonated or not.
   */
  mayImpersonate(caller: string, identity: SpiffeId): boolean | Promise<boolean>
  /** Cap on the requested validity. Default 90 days (Istio's max workload certificate TTL). */
  readonly maxTtlMs?: number
  /** Used when the request asks for no particular validity. Default 24 h. */
  readonly defaultTtlMs?: number
  readonly logger?: Logger
}

export function createCaService(options: CaServiceOptions): GrpcServiceBinding {
  const log = childLogger(options.logger ?? createLogger({ component: 'istiod', level: 'silent' }), 'ca')
  const maxTtlMs = options.maxTtlMs ?? DEFAULT_MAX_WORKLOAD_TTL_MS
  const defaultTtlMs = Math.min(options.defaultTtlMs ?? DEFAULT_WORKLOAD_TTL_MS, maxTtlMs)

  async function createCertificate(call: GrpcServerCall, bytes: Buffer): Promise<CertificateResponse> {
    const token = bearerToken(call.metadata)
    if (token === undefined) throw refused(XdsErrorCode.unauthenticated, 'missing bearer token (authorization: Bearer <token>)')
    const caller = await options.authenticate(token)
    if (caller === undefined) throw refused(XdsErrorCode.unauthenticated, 'bearer token not accepted')
    const req = decodeRequest(bytes)
    const csr = await parseCsr(req.csr ?? '')
    const impersonated = impersonatedIdentity(req)
    if (impersonated !== undefined && !impersonated.equals(csr.identity)) {
      throw refused(XdsErrorCode.badRequest, `${IMPERSONATED_IDENTITY} ${impersonated} differs from the CSR's identity ${csr.identity}`)
    }
    if (!(await options.mayImpersonate(caller, csr.identity))) {
      throw refused(
        XdsErrorCode.permissionDenied,
        `${caller} may not obtain a certificate for ${csr.identity}: no such pod is scheduled on it`,
      )
    }
    const ttlMs = validityMs(int64ToNumber(req.validityDuration), defaultTtlMs, maxTtlMs)
    const { certChainPem } = await options.ca.signCsr(req.csr ?? '', { ttlMs, expectedIdentity: csr.identity })
    log.info(
      { event: 'ca_signed', caller, identity: csr.identity.toString(), ttlMs, impersonated: impersonated !== undefined },
      'certificate signed',
    )
    return { certChain: certChainPem }
  }

  const method = ISTIO_CERTIFICATE_SERVICE.CreateCertificate
  return {
    methods: {
      [method.path]: {
        kind: 'unary',
        handle: (request, call) =>
          createCertificate(call, request).then(
            (res) => method.responseSerialize(res),
            (err: unknown) => {
              const s = toGrpcStatus(err)
              log.warn(
                { event: 'ca_refused', code: errorCode(err), grpcCode: grpcCodeName(s.code), reason: errorMessage(err), peer: call.peer },
                'certificate request refused',
              )
              throw err
            },
          ),
      },
    },
  }
}

function decodeRequest(bytes: Buffer): CertificateRequest {
  try {
    return ISTIO_CERTIFICATE_SERVICE.CreateCertificate.requestDeserialize(bytes)
  } catch (err) {
    throw refused(XdsErrorCode.badRequest, `IstioCertificateRequest does not decode: ${errorMessage(err)}`, err)
  }
}

function impersonatedIdentity(req: CertificateRequest): SpiffeId | undefined {
  const value = req.metadata?.fields?.[IMPERSONATED_IDENTITY]
  if (value === undefined) return undefined
  if (typeof value.stringValue !== 'string' || value.stringValue === '')
    throw refused(XdsErrorCode.badRequest, `${IMPERSONATED_IDENTITY} must be a SPIFFE ID string`)
  try {
    return SpiffeId.parse(value.stringValue)
  } catch (err) {
    throw refused(XdsErrorCode.badRequest, `${IMPERSONATED_IDENTITY} "${value.stringValue}" is not a SPIFFE ID`, err)
  }
}

/**
 * protobufjs decodes int64 as a Long object when the `long` package is installed (it is, through
 * protobufjs itself), whatever pbjs' --force-number says about the typings; accept every form.
 */
function int64ToNumber(v: unknown): number {
  if (v === null || v === undefined) return 0
  if (typeof v === 'number') return v
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v)
  if (typeof v === 'object' && 'toNumber' in v && typeof v.toNumber === 'function') return (v.toNumber as () => number).call(v)
  return Number.NaN
}

/** validity_duration is in seconds; 0 = the default; longer than the cap = the cap (logged by the caller). */
export function validityMs(seconds: number, defaultTtlMs: number, maxTtlMs: number): number {
  if (!Number.isFinite(seconds) || seconds < 0) throw refused(XdsErrorCode.badRequest, `validity_duration ${seconds} is negative`)
  if (seconds === 0) return defaultTtlMs
  return Math.min(seconds * 1000, maxTtlMs)
}

function refused(code: string, message: string, cause?: unknown): AmbientError {
  return new AmbientError(code, message, { side: 'downstream', cause })
}
