// Kubernetes core kinds: Namespace, ServiceAccount, Pod, Deployment (apps/v1), Service. Only the
// fields istiod reads are validated; every other field of these large kinds is accepted and ignored
// (a `kubectl get -o yaml` dump has dozens), so `Known` is `true` at their top levels.
import type { Container, ContainerPort, ObjectBody as Body, PodSpec, PortProtocol, ServicePort } from './model.js'
import { PORT_MAX } from '../../net/address.js'
import { type Entry, Fields, type Issues, type Path, readInt } from './fields.js'
import { ConfigMessageCode } from './messages.js'

const PROTOCOLS: readonly PortProtocol[] = ['TCP', 'UDP', 'SCTP']
const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const
/** Kubernetes' IANA_SVC_NAME: what a named targetPort must look like. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/

export function decodeNamespaced(): Body<'Namespace'> {
  return {}
}

export function decodePod(top: Fields, issues: Issues): Body<'Pod'> | undefined {
  const mark = issues.mark()
  const spec = decodePodSpec(top.child('spec', true), top.at('spec'), issues)
  const status = top.child('status', true)
  const podIP = status?.string('podIP')
  if (issues.failedSince(mark) || spec === undefined) return undefined
  return { spec, status: { podIP } }
}

export function decodeDeployment(top: Fields, issues: Issues): Body<'Deployment'> | undefined {
  const mark = issues.mark()
  const spec = top.requiredChild('spec', true, 'add spec: with selector and template')
  if (spec === undefined) return undefined
  const replicas = spec.int('replicas', 0, 10_000) ?? 1
  const matchLabels = spec.child('selector', true)?.stringMap('matchLabels') ?? {}
  if (!spec.has('selector')) {
    issues.error(
      ConfigMessageCode.missingField,
      spec.at('selector'),
      '"selector" is required',
      'add selector: {matchLabels: {app: <name>}} matching the template labels',
    )
  }
  const template = spec.child('template', true)
  if (template === undefined) {
    issues.error(
      ConfigMessageCode.missingField,
      spec.at('template'),
      '"template" is required',
      'add template: with metadata.labels and spec.containers',
    )
    return undefined
  }
  const meta = template.child('metadata', true)
  const labels = meta?.stringMap('labels') ?? {}
  const annotations = meta?.stringMap('annotations') ?? {}
  const podSpec = decodePodSpec(template.child('spec', true), template.at('spec'), issues)
  // The API server rejects a selector that does not select the template's own pods.
  for (const [k, v] of Object.entries(matchLabels)) {
    if (labels[k] !== v) {
      issues.error(
        ConfigMessageCode.schema,
        [...spec.at('selector'), 'matchLabels', k],
        `selector ${k}=${v} does not match the template labels`,
        `add ${k}: ${v} to spec.template.metadata.labels`,
      )
    }
  }
  if (issues.failedSince(mark) || podSpec === undefined) return undefined
  return { spec: { replicas, selector: { matchLabels }, template: { metadata: { labels, annotations }, spec: podSpec } } }
}

function decodePodSpec(spec: Fields | undefined, path: Path, issues: Issues): PodSpec | undefined {
  if (spec === undefined) {
    issues.error(ConfigMessageCode.missingField, path, '"spec" is required', 'add spec: with containers')
    return undefined
  }
  const containers = spec.list('containers').flatMap((e) => decodeContainer(e, issues) ?? [])
  if (!spec.has('containers')) {
    issues.error(
      ConfigMessageCode.missingField,
      spec.at('containers'),
      '"containers" is required',
      'add containers: [{name: app, image: <image>}]',
    )
  }
  const serviceAccountName = spec.string('serviceAccountName') ?? spec.string('serviceAccount') ?? 'default'
  return { containers, serviceAccountName, nodeName: spec.string('nodeName') }
}

function decodeContainer({ value, path }: Entry, issues: Issues): Container | undefined {
  const f = Fields.open(value, path, issues, true)
  if (f === undefined) return undefined
  const name = f.string('name', { required: true }) ?? ''
  const image = f.string('image', { required: true }) ?? ''
  const ports = f.list('ports').flatMap((e) => decodeContainerPort(e, issues) ?? [])
  return { name, image, ports }
}

function decodeContainerPort({ value, path }: Entry, issues: Issues): ContainerPort | undefined {
  const f = Fields.open(value, path, issues, true)
  if (f === undefined) return undefined
  const containerPort = f.int('containerPort', 1, PORT_MAX, { required: true })
  const protocol = f.enumOf('protocol', PROTOCOLS) ?? 'TCP'
  return containerPort === undefined ? undefined : { name: f.string('name'), containerPort, protocol }
}

export function decodeService(top: Fields, issues: Issues): Body<'Service'> | undefined {
  const mark = issues.mark()
  const spec = top.requiredChild('spec', true, 'add spec: with selector and ports')
  if (spec === undefined) return undefined
  const selector = spec.has('selector') ? spec.stringMap('selector') : undefined
  const type = spec.enumOf('type', SERVICE_TYPES) ?? 'ClusterIP'
  const ports = spec.list('ports').flatMap((e) => decodeServicePort(e, issues) ?? [])
  if (ports.length === 0 && type !== 'ExternalName' && !issues.failedSince(mark)) {
    issues.error(
      ConfigMessageCode.missingField,
      spec.at('ports'),
      'a Service needs at least one port',
      'add ports: [{port: 80, targetPort: 8080}]',
    )
  }
  const clusterIP = spec.string('clusterIP')
  if (issues.failedSince(mark)) return undefined
  return { spec: { selector, ports, clusterIP, type } }
}

function decodeServicePort({ value, path }: Entry, issues: Issues): ServicePort | undefined {
  const f = Fields.open(value, path, issues, true)
  if (f === undefined) return undefined
  const mark = issues.mark()
  const port = f.int('port', 1, PORT_MAX, { required: true })
  const targetPort = decodeTargetPort(f.raw('targetPort'), f.at('targetPort'), issues) ?? port
  const protocol = f.enumOf('protocol', PROTOCOLS) ?? 'TCP'
  if (issues.failedSince(mark) || port === undefined || targetPort === undefined) return undefined
  return { name: f.string('name'), port, targetPort, protocol, appProtocol: f.string('appProtocol') }
}

/** IntOrString: a port number, or the name of a container port. */
function decodeTargetPort(v: unknown, path: Path, issues: Issues): number | string | undefined {
  if (v === undefined) return undefined
  if (typeof v === 'string' && !/^\d+$/.test(v)) {
    if (PORT_NAME.test(v)) return v
    issues.error(
      ConfigMessageCode.schema,
      path,
      `targetPort "${v}" is neither a port number nor a port name`,
      'write a number (8080) or the name of a container port (lower-case letters, digits, "-", at most 15)',
    )
    return undefined
  }
  return readInt(v, path, issues, 1, PORT_MAX)
}
