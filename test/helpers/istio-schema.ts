// Istio's workload and authorization messages restated as a protobufjs reflection schema (names,
// numbers and types from Istio's workload.proto and authorization.proto, 1.24-1.28; see
// docs/istio-reference.md), independent of proto/ and src/xds/gen, and a walker that lists every
// field of an encoded message that Istio's definitions do not have, or that has the wrong wire type.
import protobuf from 'protobufjs'

const f = (type: string, id: number, rule?: 'repeated') => ({ type, id, ...(rule === undefined ? {} : { rule }) })
const map = (keyType: string, type: string, id: number) => ({ keyType, type, id })

const ISTIO = {
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: { fields: { type_url: f('string', 1), value: f('bytes', 2) } },
            UInt32Value: { fields: { value: f('uint32', 1) } },
            Empty: { fields: {} },
          },
        },
      },
    },
    istio: {
      nested: {
        workload: {
          nested: {
            Address: {
              oneofs: { type: { oneof: ['workload', 'service'] } },
              fields: { workload: f('Workload', 1), service: f('Service', 2) },
            },
            Service: {
              fields: {
                name: f('string', 1),
                namespace: f('string', 2),
                hostname: f('string', 3),
                addresses: f('NetworkAddress', 4, 'repeated'),
                ports: f('Port', 5, 'repeated'),
                subject_alt_names: f('string', 6, 'repeated'),
                waypoint: f('GatewayAddress', 7),
                load_balancing: f('LoadBalancing', 8),
                ip_families: f('int32', 9),
                extensions: f('Extension', 10, 'repeated'),
              },
            },
            LoadBalancing: {
              fields: {
                routing_preference: f('int32', 1, 'repeated'),
                mode: f('int32', 2),
                health_policy: f('int32', 3),
                dns_connect_strategy: f('int32', 4),
              },
            },
            Workload: {
              fields: {
                uid: f('string', 20),
                name: f('string', 1),
                namespace: f('string', 2),
                addresses: f('bytes', 3, 'repeated'),
                hostname: f('string', 21),
                network: f('string', 4),
                tunnel_protocol: f('int32', 5),
                trust_domain: f('string', 6),
                service_account: f('string', 7),
                waypoint: f('GatewayAddress', 8),
                network_gateway: f('GatewayAddress', 19),
                node: f('string', 9),
                canonical_name: f('string', 10),
                canonical_revision: f('string', 11),
                workload_type: f('int32', 12),
                workload_name: f('string', 13),
                native_tunnel: f('bool', 14),
                application_tunnel: f('ApplicationTunnel', 23),
                services: map('string', 'PortList', 22),
                authorization_policies: f('string', 16, 'repeated'),
                status: f('int32', 17),
                cluster_id: f('string', 18),
                locality: f('Locality', 24),
                network_mode: f('int32', 25),
                extensions: f('Extension', 26, 'repeated'),
                capacity: f('google.protobuf.UInt32Value', 27),
              },
            },
            Locality: { fields: { region: f('string', 1), zone: f('string', 2), subzone: f('string', 3) } },
            PortList: { fields: { ports: f('Port', 1, 'repeated') } },
            Port: { fields: { service_port: f('uint32', 1), target_port: f('uint32', 2), app_protocol: f('int32', 3) } },
            ApplicationTunnel: { fields: { protocol: f('int32', 1), port: f('uint32', 2) } },
            GatewayAddress: {
              oneofs: { destination: { oneof: ['hostname', 'address'] } },
              fields: { hostname: f('NamespacedHostname', 1), address: f('NetworkAddress', 2), hbone_mtls_port: f('uint32', 3) },
            },
            NetworkAddress: { fields: { network: f('string', 1), address: f('bytes', 2) } },
            NamespacedHostname: { fields: { namespace: f('string', 1), hostname: f('string', 2) } },
            Extension: { fields: { name: f('string', 1), config: f('google.protobuf.Any', 2) } },
          },
        },
        security: {
          nested: {
            Authorization: {
              fields: {
                name: f('string', 1),
                namespace: f('string', 2),
                scope: f('int32', 3),
                action: f('int32', 4),
                rules: f('Rule', 5, 'repeated'),
                dry_run: f('bool', 6),
              },
            },
            Rule: { fields: { clauses: f('Clause', 1, 'repeated') } },
            Clause: { fields: { matches: f('Match', 2, 'repeated') } },
            Match: {
              fields: {
                namespaces: f('StringMatch', 1, 'repeated'),
                not_namespaces: f('StringMatch', 2, 'repeated'),
                principals: f('StringMatch', 3, 'repeated'),
                not_principals: f('StringMatch', 4, 'repeated'),
                source_ips: f('Address', 5, 'repeated'),
                not_source_ips: f('Address', 6, 'repeated'),
                destination_ips: f('Address', 7, 'repeated'),
                not_destination_ips: f('Address', 8, 'repeated'),
                destination_ports: f('uint32', 9, 'repeated'),
                not_destination_ports: f('uint32', 10, 'repeated'),
                service_accounts: f('ServiceAccountMatch', 11, 'repeated'),
                not_service_accounts: f('ServiceAccountMatch', 12, 'repeated'),
              },
            },
            Address: { fields: { address: f('bytes', 1), length: f('uint32', 2) } },
            ServiceAccountMatch: { fields: { namespace: f('string', 1), serviceAccount: f('string', 2) } },
            StringMatch: {
              oneofs: { match_type: { oneof: ['exact', 'prefix', 'suffix', 'presence'] } },
              fields: { exact: f('string', 1), prefix: f('string', 2), suffix: f('string', 3), presence: f('google.protobuf.Empty', 4) },
            },
          },
        },
      },
    },
  },
}

export const istioRoot = protobuf.Root.fromJSON(ISTIO)

const SCALAR_WIRE: Record<string, number> = { string: 2, bytes: 2, bool: 0, int32: 0, uint32: 0, int64: 0, uint64: 0 }

/** `path: why` for every field Istio's `typeName` does not define (or with another wire type), recursively. */
export function unknownFields(typeName: string, bytes: Uint8Array, path = typeName): string[] {
  const type = istioRoot.lookupType(typeName)
  const r = protobuf.Reader.create(bytes)
  const out: string[] = []
  while (r.pos < r.len) {
    const tag = r.uint32()
    const id = tag >>> 3
    const wire = tag & 7
    const field = type.fieldsById[id]
    if (field === undefined) {
      out.push(`${path}.${id}: not in Istio's ${typeName}`)
      r.skipType(wire)
      continue
    }
    field.resolve()
    const at = `${path}.${field.name}`
    if (field instanceof protobuf.MapField) {
      const entry = r.bytes()
      const er = protobuf.Reader.create(entry)
      while (er.pos < er.len) {
        const et = er.uint32()
        if (et >>> 3 === 2 && field.resolvedType !== null)
          out.push(...unknownFields(field.resolvedType.fullName.slice(1), er.bytes(), `${at}{}`))
        else er.skipType(et & 7)
      }
      continue
    }
    if (field.resolvedType instanceof protobuf.Type) {
      if (wire !== 2) {
        out.push(`${at}: wire type ${wire}, Istio's is a message`)
        r.skipType(wire)
        continue
      }
      out.push(...unknownFields(field.resolvedType.fullName.slice(1), r.bytes(), at))
      continue
    }
    const expected = SCALAR_WIRE[field.type]
    // Repeated scalars may be packed (wire type 2).
    if (wire !== expected && !(field.repeated && wire === 2)) out.push(`${at}: wire type ${wire}, Istio's ${field.type} is ${expected}`)
    r.skipType(wire)
  }
  return out
}
