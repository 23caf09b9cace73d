// The catalogue of analysis messages, in the spirit of `istioctl analyze`: a stable code, a level,
// a template and a one-line fix per code. Tests and tools match on codes, never on message text.
//
// IST0xxx codes and their levels and templates are Istio's own (pkg/config/analysis/msg/
// messages.yaml), used where Istio has a message for the same finding. AMB0xxx codes are ours, for
// findings Istio reports elsewhere (a status condition, a log line) or not at all:
//   AMB00xx  reading the input (the parser's findings that have no IST code),
//   AMB01xx  policy as ztunnel enforces it,
//   AMB02xx  waypoints and ambient enrolment.

export type Level = 'Error' | 'Warning' | 'Info'

export interface MessageType {
  readonly code: string
  /** Istio's CamelCase name (ours follow the same style). */
  readonly name: string
  readonly level: Level
  /** `%s` is replaced by an argument as is, `%q` by the argument quoted (Go's `%q`). */
  readonly template: string
  /** What to do, in one line; a message may carry a more specific fix. */
  readonly fix: string
}

const define = <const T extends Record<string, MessageType>>(types: T): T => Object.freeze(types)

export const MessageTypes = define({
  InternalError: {
    code: 'IST0001',
    name: 'InternalError',
    level: 'Error',
    template: 'Internal error: %s',
    fix: 'this is a bug in the emulator; please report it with the input',
  },
  ReferencedResourceNotFound: {
    code: 'IST0101',
    name: 'ReferencedResourceNotFound',
    level: 'Error',
    template: 'Referenced %s not found: %q',
    fix: 'create the referenced object, or correct the name (hosts: short name in the same namespace, else <name>.<namespace>.svc.cluster.local)',
  },
  ConflictingMeshGatewayVirtualServiceHosts: {
    code: 'IST0109',
    name: 'ConflictingMeshGatewayVirtualServiceHosts',
    level: 'Error',
    template: '%s',
    fix: 'merge the VirtualServices for the same host into one',
  },
  SchemaValidationError: {
    code: 'IST0106',
    name: 'SchemaValidationError',
    level: 'Error',
    template: 'Schema validation error: %s',
    fix: 'correct the field as the hint says; the object is ignored until then',
  },
  PortNameIsNotUnderNamingConvention: {
    code: 'IST0118',
    name: 'PortNameIsNotUnderNamingConvention',
    level: 'Info',
    template: "Port name %s (port: %s, targetPort: %s) doesn't follow the naming convention of Istio port.",
    fix: 'name the port <protocol>[-<suffix>] (http, http2, grpc, tcp, tls...) or set appProtocol, so a waypoint knows it is HTTP',
  },
  NoMatchingWorkloadsFound: {
    code: 'IST0127',
    name: 'NoMatchingWorkloadsFound',
    level: 'Warning',
    template: 'No matching workloads for this resource with the following labels: %s',
    fix: "correct the selector's labels to those of a Pod or Deployment template in the same namespace",
  },
  SchemaWarning: {
    code: 'IST0133',
    name: 'SchemaWarning',
    level: 'Warning',
    template: 'Schema validation warning: %s',
    fix: 'remove or correct the field; it is ignored',
  },

  UnreadableFile: {
    code: 'AMB0001',
    name: 'UnreadableFile',
    level: 'Error',
    template: 'The file could not be read: %s',
    fix: 'check the file exists and is readable',
  },
  DuplicateObject: {
    code: 'AMB0002',
    name: 'DuplicateObject',
    level: 'Error',
    template: '%s',
    fix: 'rename one of the objects, or delete the copy',
  },
  UnknownKind: {
    code: 'AMB0003',
    name: 'UnknownKind',
    level: 'Info',
    template: '%s',
    fix: 'nothing to do if this is intended; the emulator reads only the kinds it models',
  },
  ConfigInputFinding: {
    // Any other parser finding (e.g. a broken file whose last good objects stay applied); level
    // from the parser's severity, `origin` holds its code.
    code: 'AMB0005',
    name: 'ConfigInputFinding',
    level: 'Warning',
    template: '%s',
    fix: 'see the message',
  },
  TranslationFinding: {
    // Level Warning by default; a translation error keeps its Error level. `origin` holds its code.
    code: 'AMB0004',
    name: 'TranslationFinding',
    level: 'Warning',
    template: '%s',
    fix: 'see the message; translation applied the documented fallback',
  },

  ZtunnelHttpAttributes: {
    code: 'AMB0101',
    name: 'ZtunnelHttpAttributes',
    level: 'Warning',
    // The text after the code is Istio's own ZtunnelAccepted status message.
    template: '%s',
    fix:
      'move the HTTP rules into a policy with targetRefs (kind: Service or Gateway) enforced by a ' +
      'waypoint; keep only ports, principals, namespaces and ipBlocks here',
  },
  ZtunnelUnsupportedAction: {
    code: 'AMB0102',
    name: 'ZtunnelUnsupportedAction',
    level: 'Warning',
    template: '%s',
    fix: 'use ALLOW or DENY for ztunnel, or attach the policy to a waypoint with targetRefs',
  },
  PrincipalWithSpiffePrefix: {
    code: 'AMB0103',
    name: 'PrincipalWithSpiffePrefix',
    level: 'Warning',
    template: '%s',
    fix: 'write principals without spiffe://, e.g. cluster.local/ns/default/sa/sleep',
  },
  PeerAuthenticationDisableInAmbient: {
    code: 'AMB0104',
    name: 'PeerAuthenticationDisableInAmbient',
    level: 'Warning',
    template: 'mTLS mode DISABLE is not supported in ambient mode (%s); ztunnel accepts plaintext as with PERMISSIVE',
    fix: 'use PERMISSIVE, or take the workloads out of ambient (istio.io/dataplane-mode: none)',
  },

  WaypointNotAWaypoint: {
    code: 'AMB0201',
    name: 'WaypointNotAWaypoint',
    level: 'Error',
    template: 'istio.io/use-waypoint names Gateway %s, whose gatewayClassName is %q, not istio-waypoint',
    fix: 'name a Gateway with gatewayClassName: istio-waypoint, or set gatewayClassName: istio-waypoint on it',
  },
  WaypointForMismatch: {
    code: 'AMB0202',
    name: 'WaypointForMismatch',
    level: 'Warning',
    template:
      'waypoint %s has istio.io/waypoint-for: %s, which does not take %s traffic; this object gets no waypoint and its L7 policy is not applied',
    fix: 'label the Gateway istio.io/waypoint-for: all (or the matching kind), or use another waypoint',
  },
  UnusedWaypoint: {
    code: 'AMB0203',
    name: 'UnusedWaypoint',
    level: 'Warning',
    template: 'waypoint %s is not used: no Namespace, Service or Pod is labelled istio.io/use-waypoint: %s',
    fix: 'label the namespace or Services it should serve with istio.io/use-waypoint: <name>, or delete the Gateway',
  },
  WaypointPrincipalNotAllowed: {
    code: 'AMB0204',
    name: 'WaypointPrincipalNotAllowed',
    level: 'Error',
    template:
      "%s is behind waypoint %s, and ALLOW policies apply to it (%s) but none allows the waypoint's " +
      'principal %q: the destination sees the waypoint as the source, so every request through the ' +
      'waypoint is denied',
    fix: 'add a rule with from: [{source: {principals: ["<waypoint principal>"]}}] to one of those ALLOW policies',
  },
  NamespaceNotInAmbient: {
    code: 'AMB0205',
    name: 'NamespaceNotInAmbient',
    level: 'Warning',
    template: '%s, but namespace %s is not in ambient mode: %s',
    fix: 'label the Namespace istio.io/dataplane-mode: ambient (or the pods)',
  },
  PolicyTargetNotServedByWaypoint: {
    code: 'AMB0206',
    name: 'PolicyTargetNotServedByWaypoint',
    level: 'Warning',
    template: 'targetRefs names %s, which no waypoint serves: this policy is not enforced',
    fix: 'label the Service (or its namespace) istio.io/use-waypoint: <waypoint>, or target the waypoint Gateway',
  },
})

export type MessageTypeName = keyof typeof MessageTypes
export type MessageCode = (typeof MessageTypes)[MessageTypeName]['code']

/** One finding, located as `istioctl analyze` locates it. */
export interface AnalysisMessage {
  readonly code: MessageCode
  readonly name: MessageTypeName
  readonly level: Level
  readonly message: string
  /** `Kind namespace/name` (`Kind name` for cluster-scoped kinds); undefined for whole-file problems. */
  readonly object: string | undefined
  readonly file: string | undefined
  /** 1-based; the field's line when it could be found, else the object's. */
  readonly line: number | undefined
  /** The field, e.g. `spec.http[0].route[0].destination.host`; '' for the whole object. */
  readonly path: string
  readonly fix: string
  /** The parser's or translation's own code, when the finding came from there. */
  readonly origin?: string | undefined
}

/** Renders a template: `%s` as is, `%q` quoted. Extra arguments are ignored, missing ones left empty. */
export function renderTemplate(template: string, args: readonly (string | number)[]): string {
  let i = 0
  return template.replace(/%[sq]/g, (spec) => {
    const arg = args[i++]
    if (arg === undefined) return ''
    return spec === '%q' ? JSON.stringify(String(arg)) : String(arg)
  })
}

export function messageType(code: string): MessageType | undefined {
  return Object.values(MessageTypes).find((t) => t.code === code)
}

/** Istio publishes a page per IST code; ours are documented in this file. */
export function documentationUrl(code: string): string | undefined {
  return code.startsWith('IST') ? `https://istio.io/latest/docs/reference/config/analysis/${code.toLowerCase()}/` : undefined
}
