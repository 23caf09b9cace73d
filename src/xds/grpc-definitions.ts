// Hand-written service definitions (grpc-js's shape, a type-only import) whose serializers call the
// generated protobufjs code (no @grpc/proto-loader: it would pull in protobufjs 7 beside our 8):
// istiod's server (./grpc-server.ts) and the proxies' client take the paths and serializers from
// here, and so do the tests that call istiod through a grpc-js client. The paths are Istio's and
// Envoy's; proto/ documents the same services.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js'
import { envoy, istio } from './gen/messages.js'
import { decodeDeltaResponse } from './delta-response-bytes.js'
import { EncodedMessage } from './resource-frames.js'

const d = envoy.service.discovery.v3
const auth = istio.v1.auth

export type DeltaRequest = envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties
export type DeltaResponse = envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties
export type CertificateRequest = istio.v1.auth.IstioCertificateRequest.$Properties
export type CertificateResponse = istio.v1.auth.IstioCertificateResponse.$Properties

/** A Buffer view of the encoded bytes (grpc-js wants a Buffer; no copy). */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array }
  decode(b: Uint8Array): T
}

function method<Req, Res>(
  path: string,
  req: Codec<Req>,
  res: Codec<Res>,
  streams: { request: boolean; response: boolean },
  decodeResponse: (b: Uint8Array) => Res = (b) => res.decode(b),
): MethodDefinition<Req, Res> {
  return {
    path,
    requestStream: streams.request,
    responseStream: streams.response,
    requestSerialize: (m) => toBuffer(req.encode(m).finish()),
    requestDeserialize: (b) => req.decode(b),
    // A server may write a message it serialized itself (the Delta ADS server's encode-once responses).
    responseSerialize: (m: Res | EncodedMessage) => (m instanceof EncodedMessage ? m.bytes : toBuffer(res.encode(m).finish())),
    responseDeserialize: decodeResponse,
  }
}

export const DELTA_ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources'
/** Istio's CA request metadata key: a node proxy asking on behalf of a local pod. */
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity'

export const CREATE_CERTIFICATE_PATH = '/istio.v1.auth.IstioCertificateService/CreateCertificate'

export const AGGREGATED_DISCOVERY_SERVICE = {
  // A client reads the responses directly (./delta-response-bytes.ts): a sync's response holds every resource of a type.
  DeltaAggregatedResources: method<DeltaRequest, DeltaResponse>(
    DELTA_ADS_PATH,
    d.DeltaDiscoveryRequest,
    d.DeltaDiscoveryResponse,
    { request: true, response: true },
    decodeDeltaResponse,
  ),
} satisfies ServiceDefinition

export const ISTIO_CERTIFICATE_SERVICE = {
  CreateCertificate: method<CertificateRequest, CertificateResponse>(
    CREATE_CERTIFICATE_PATH,
    auth.IstioCertificateRequest,
    auth.IstioCertificateResponse,
    { request: false, response: false },
  ),
} satisfies ServiceDefinition
