// The generated protobuf messages (scripts/gen-proto.mjs → ./gen/messages.js), re-exported under
// short names. Everything outside src/xds sees domain types only; these wire types stay in here.
import { envoy, google, istio, ambient } from './gen/messages.js'

export const pb = {
  DeltaDiscoveryRequest: envoy.service.discovery.v3.DeltaDiscoveryRequest,
  DeltaDiscoveryResponse: envoy.service.discovery.v3.DeltaDiscoveryResponse,
  Resource: envoy.service.discovery.v3.Resource,
  Node: envoy.config.core.v3.Node,
  Any: google.protobuf.Any,
  Struct: google.protobuf.Struct,
  Value: google.protobuf.Value,
  Status: google.rpc.Status,
  UInt32Value: google.protobuf.UInt32Value,
  Address: istio.workload.Address,
  Workload: istio.workload.Workload,
  Service: istio.workload.Service,
  GatewayAddress: istio.workload.GatewayAddress,
  NetworkAddress: istio.workload.NetworkAddress,
  NamespacedHostname: istio.workload.NamespacedHostname,
  PortList: istio.workload.PortList,
  Port: istio.workload.Port,
  Authorization: istio.security.Authorization,
  IstioCertificateRequest: istio.v1.auth.IstioCertificateRequest,
  IstioCertificateResponse: istio.v1.auth.IstioCertificateResponse,
  WaypointConfig: ambient.waypoint.v1.WaypointConfig,
} as const

export { envoy, google, istio, ambient }
