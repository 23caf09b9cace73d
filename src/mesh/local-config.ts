// ztunnel's local config file (its LOCAL_XDS_PATH): a YAML document with top-level `workloads:`,
// `services:` and `policies:`, each entry in the camelCase JSON form of Istio's messages (see the
// decoders for the accepted spellings and defaults, and test/fixtures/ztunnel-local.yaml):
//
//   workloads:
//     - name: httpbin-v1-5c5b5cd6b9-4wz8m        # uid defaults to Kubernetes//v1/Pod/<ns>/<name>
//       namespace: default
//       serviceAccount: httpbin
//       node: node-b
//       addresses: ["127.244.2.2"]               # or ztunnel's workloadIps
//       podLocalAddress: 127.245.2.2             # emulator extension: where the app binds
//       services: {default/httpbin.default.svc.cluster.local: {8000: 8080}}
//       authorizationPolicies: [default/httpbin-allow-sleep]
//   services:
//     - {name: httpbin, namespace: default, addresses: ["127.96.0.12"], ports: {8000: 8080},
//        waypoint: {destination: default/waypoint.default.svc.cluster.local}}
//   policies:
//     - name: httpbin-allow-sleep
//       namespace: default
//       scope: WORKLOAD_SELECTOR                 # required: the proto default GLOBAL is too wide
//       action: ALLOW
//       rules: [{clauses: [{matches: [{principals: [cluster.local/ns/default/sa/sleep]}]}]}]
//
// Validation rule: every bad entry is rejected and reported (code, file, path, line, reason), all
// at once; the good entries still make up the snapshot. Among entries that clash (same uid, same
// address, same Service or policy name) the earlier one wins and the later one is rejected. Only a
// file that is not YAML at all is unusable as a whole.
import { LineCounter, parseDocument } from 'yaml'
import { policyKey } from '../authz/policy.js'
import type { MeshSnapshot } from './change.js'
import { networkAddressKey } from './ip.js'
import { Fields, Issues, LocalConfigErrorCode, type Path, formatPath, isMapping } from './local-config-fields.js'
import { decodePolicy } from './local-config-policy.js'
import { decodeService } from './local-config-service.js'
import { decodeWorkload } from './local-config-workload.js'
import { serviceKey } from './types.js'
import type { Authorization, Service, Workload } from './types.js'
import { yamlLineOf } from './yaml-line.js'

export { LocalConfigErrorCode }

export const DEFAULT_ROOT_NAMESPACE = 'istio-system'

/** One problem in the file, located the way istioctl analyze locates them. */
export interface ConfigError {
  readonly code: LocalConfigErrorCode
  readonly file: string
  /** `workloads[2].addresses[0]`; '' for the whole file. */
  readonly path: string
  /** 1-based line, when the YAML node (or its nearest existing parent) is known. */
  readonly line: number | undefined
  readonly reason: string
}

export type LocalConfigResult =
  /** The snapshot holds every valid entry; `errors` lists the rejected ones. */
  | { readonly kind: 'parsed'; readonly snapshot: MeshSnapshot; readonly errors: readonly ConfigError[] }
  /** Not YAML: nothing in it can be trusted, the caller keeps what it had. */
  | { readonly kind: 'unusable'; readonly errors: readonly ConfigError[] }

export interface LocalConfigOptions {
  /** Reported in every error. */
  readonly file: string
  readonly rootNamespace?: string
}

export function parseLocalConfig(text: string, options: LocalConfigOptions): LocalConfigResult {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: true })
  if (doc.errors.length > 0) {
    return {
      kind: 'unusable',
      errors: doc.errors.map((e) => ({
        code: LocalConfigErrorCode.yaml,
        file: options.file,
        path: '',
        line: e.linePos?.[0]?.line,
        reason: e.message,
      })),
    }
  }
  const issues = new Issues()
  const snapshot = decodeSnapshot(doc.toJS() as unknown, issues, options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE)
  const errors = issues.list.map((i) => ({
    code: i.code,
    file: options.file,
    path: formatPath(i.path),
    line: yamlLineOf(doc, lineCounter, i.path),
    reason: i.reason,
  }))
  return { kind: 'parsed', snapshot, errors }
}

function decodeSnapshot(root: unknown, issues: Issues, rootNamespace: string): MeshSnapshot {
  // An empty file is an empty mesh, not an error.
  if (root === null || root === undefined) return { workloads: [], services: [], policies: [] }
  if (!isMapping(root)) {
    issues.add(LocalConfigErrorCode.shape, [], 'the file must be a mapping with workloads:, services: and policies:')
    return { workloads: [], services: [], policies: [] }
  }
  const top = Fields.open(root, [], issues, ['workloads', 'services', 'policies'])
  const claims = new Map<string, string>()
  return {
    workloads: acceptAddressed(WORKLOADS, top?.list('workloads') ?? [], issues, claims),
    services: acceptAddressed(SERVICES, top?.list('services') ?? [], issues, claims),
    policies: acceptPolicies(top?.list('policies') ?? [], issues, rootNamespace),
  }
}

type Entry = { value: unknown; path: Path }

/**
 * `claims` maps each address key already taken to who took it: `<network>/<ip>` for pod IPs and
 * VIPs (an IP may repeat across networks), `pod:<ip>` and `local:<ip>` for pod IPs and pod-local
 * addresses, which all share this machine's loopback whatever their network.
 */
interface Claim {
  readonly path: Path
  readonly ip: string
  /** Keys that must be free. */
  readonly check: readonly string[]
  /** Keys taken if the entry is accepted. */
  readonly take: readonly string[]
}

/** How the entries of one address-holding kind (workloads, Services) are accepted. */
interface AddressKind<T> {
  readonly decode: (value: unknown, path: Path, issues: Issues) => T | undefined
  /** What must be unique, and how an entry is named in messages about it. */
  readonly key: (t: T) => string
  readonly who: (t: T, key: string) => string
  /** The message when the key repeats: its code, the field it points at, its text. */
  readonly duplicate: { readonly code: LocalConfigErrorCode; readonly field: string; readonly text: (key: string, seen: string) => string }
  readonly wanted: (t: T, value: unknown, path: Path) => Claim[]
}

const WORKLOADS: AddressKind<Workload> = {
  decode: decodeWorkload,
  key: (w) => w.uid,
  who: (w) => `${w.namespace}/${w.name}`,
  duplicate: { code: LocalConfigErrorCode.duplicateUid, field: 'uid', text: (uid, seen) => `uid "${uid}" is already used by ${seen}` },
  wanted: (w, value, path) => {
    const addrKey = isMapping(value) && 'workloadIps' in value ? 'workloadIps' : 'addresses'
    const wanted: Claim[] = w.addresses.map((ip, j) => {
      const net = networkAddressKey(w.network, ip)
      return { path: [...path, addrKey, j], ip, check: [net, `local:${ip}`], take: [net, `pod:${ip}`] }
    })
    const local = w.podLocalAddress
    if (local !== undefined) {
      wanted.push({ path: [...path, 'podLocalAddress'], ip: local, check: [`pod:${local}`, `local:${local}`], take: [`local:${local}`] })
    }
    return wanted
  },
}

const SERVICES: AddressKind<Service> = {
  decode: decodeService,
  key: serviceKey,
  who: (_s, key) => key,
  duplicate: {
    code: LocalConfigErrorCode.duplicateKey,
    field: 'hostname',
    text: (key, seen) => `Service "${key}" is already defined by ${seen}`,
  },
  wanted: (s, value, path) => {
    const vipKey = isMapping(value) && 'vips' in value ? 'vips' : 'addresses'
    return s.addresses.map((ip, j) => {
      const net = networkAddressKey(s.network ?? '', ip)
      return { path: [...path, vipKey, j], ip, check: [net, `local:${ip}`], take: [net] }
    })
  },
}

/** The entries that decode, have a key no earlier entry has, and claim only free addresses. */
function acceptAddressed<T>(kind: AddressKind<T>, entries: Entry[], issues: Issues, claims: Map<string, string>): T[] {
  const out: T[] = []
  const keys = new Map<string, string>()
  for (const { value, path } of entries) {
    const t = kind.decode(value, path, issues)
    if (t === undefined) continue
    const mark = issues.mark()
    const key = kind.key(t)
    const who = `${formatPath(path)} (${kind.who(t, key)})`
    const seen = keys.get(key)
    if (seen !== undefined) issues.add(kind.duplicate.code, [...path, kind.duplicate.field], kind.duplicate.text(key, seen))
    claimAll(kind.wanted(t, value, path), who, issues, claims, mark)
    if (issues.since(mark)) continue
    keys.set(key, who)
    out.push(t)
  }
  return out
}

function acceptPolicies(entries: Entry[], issues: Issues, rootNamespace: string): Authorization[] {
  const out: Authorization[] = []
  const keys = new Map<string, string>()
  for (const { value, path } of entries) {
    const p = decodePolicy(value, path, issues, { rootNamespace })
    if (p === undefined) continue
    const key = policyKey(p)
    const seen = keys.get(key)
    if (seen !== undefined) {
      issues.add(LocalConfigErrorCode.duplicateKey, [...path, 'name'], `policy "${key}" is already defined by ${seen}`)
      continue
    }
    keys.set(key, formatPath(path))
    out.push(p)
  }
  return out
}

/** Checks every wanted address, then (only if the entry is still clean) takes them all. */
function claimAll(wanted: readonly Claim[], who: string, issues: Issues, claims: Map<string, string>, mark: number): void {
  for (const claim of wanted) {
    const owner = claim.check.map((k) => claims.get(k)).find((o) => o !== undefined)
    if (owner !== undefined) issues.add(LocalConfigErrorCode.duplicateAddress, claim.path, `${claim.ip} is already claimed by ${owner}`)
  }
  if (issues.since(mark)) return
  for (const claim of wanted) for (const key of claim.take) claims.set(key, who)
}
