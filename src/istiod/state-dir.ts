// istiod's state directory: what must survive a restart so that connected proxies need nothing new.
//
//   <stateDir>/ca/                 the mesh CA (root-cert.pem is the trust anchor proxies are given)
//   <stateDir>/tokens/<node>.token one bearer token per node (node-1..node-N), 0600, random
//   <stateDir>/allocations.json    the last address allocation, so pods keep their IPs across restarts
//
// Tokens are created once and read afterwards: a restarted istiod accepts the tokens its ztunnels
// already hold. istiod's own serving certificate (`spiffe://<td>/ns/istio-system/sa/istiod`) is
// issued fresh at each start from the same CA, so nothing about it needs persisting: clients trust
// the root and check the SAN.
//
// Decision (Istio differs): a waypoint authenticates with the token of the node its pod is placed
// on. Istio gives each waypoint its own service-account token; here a node token already limits the
// CA to the identities of pods on that node, waypoint pods included, so a second kind of token would
// add files without adding a boundary.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AmbientError, errorCode } from '../errors.js'
import type { MeshCa } from '../identity/ca.js'
import { CA_FILES, DEFAULT_MAX_WORKLOAD_TTL_MS, openMeshCa } from '../identity/ca.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import type { AllocationTable } from './translate/index.js'

export const StateDirErrorCode = {
  badToken: 'ISTIOD_TOKEN_INVALID',
  badAllocations: 'ISTIOD_ALLOCATIONS_INVALID',
} as const

export const ISTIOD_NAMESPACE = 'istio-system'
export const ISTIOD_SERVICE_ACCOUNT = 'istiod'

export interface IstiodState {
  readonly ca: MeshCa
  /** istiod's TLS credential for 15012. */
  readonly serving: { readonly identity: SpiffeId; readonly certChainPem: string; readonly keyPem: string }
  readonly rootCertPath: string
  tokenFile(node: string): string
  /** The node a token belongs to, or undefined. */
  authenticate(token: string): string | undefined
  /** The allocation table saved by the previous run, if any. */
  readonly allocations: AllocationTable | undefined
  saveAllocations(table: AllocationTable): Promise<void>
}

export interface StateDirOptions {
  readonly stateDir: string
  readonly trustDomain: string
  /** Node names that get a token. */
  readonly nodes: readonly string[]
  /** Lifetime of istiod's serving certificate. Default 90 days (the CA's cap). */
  readonly servingTtlMs?: number
  /** IP SANs of the serving certificate: the address istiod binds (unspecified addresses are left out). */
  readonly servingIps?: readonly string[]
}

/**
 * The DNS SANs of Istio's istiod serving certificate (its getDNSNames: `istiod`, `istiod-remote`,
 * `istio-pilot` in the istiod namespace, `.svc`). Istio's ztunnel verifies istiod by DNS name,
 * `istiod.istio-system.svc` by default, not by the SPIFFE URI our own clients check.
 */
export const ISTIOD_DNS_NAMES: readonly string[] = ['istiod', 'istiod-remote', 'istio-pilot'].map((h) => `${h}.${ISTIOD_NAMESPACE}.svc`)

const TOKEN = /^[A-Za-z0-9_-]{16,}$/

export async function openIstiodState(options: StateDirOptions): Promise<IstiodState> {
  const caDir = join(options.stateDir, 'ca')
  const tokensDir = join(options.stateDir, 'tokens')
  const allocationsFile = join(options.stateDir, 'allocations.json')
  const ca = await openMeshCa({ dir: caDir, trustDomain: options.trustDomain })
  await mkdir(tokensDir, { recursive: true, mode: 0o700 })
  const tokenFile = (node: string): string => join(tokensDir, `${node}.token`)
  const tokens = new Map<string, Buffer>()
  for (const node of options.nodes) tokens.set(node, Buffer.from(await readOrCreateToken(tokenFile(node))))
  const identity = SpiffeId.of({ trustDomain: ca.trustDomain, namespace: ISTIOD_NAMESPACE, serviceAccount: ISTIOD_SERVICE_ACCOUNT })
  const ipAddresses = (options.servingIps ?? []).filter((ip) => isIP(ip) !== 0 && ip !== '0.0.0.0' && ip !== '::')
  const cert = await ca.issue(identity, {
    ttlMs: options.servingTtlMs ?? DEFAULT_MAX_WORKLOAD_TTL_MS,
    dnsNames: ISTIOD_DNS_NAMES,
    ipAddresses,
  })
  return {
    ca,
    serving: { identity, certChainPem: cert.certChainPem.join(''), keyPem: cert.keyPem },
    rootCertPath: join(caDir, CA_FILES.cert),
    tokenFile,
    authenticate(token) {
      const given = Buffer.from(token)
      for (const [node, expected] of tokens) {
        if (given.length === expected.length && timingSafeEqual(given, expected)) return node
      }
      return undefined
    },
    allocations: await readAllocations(allocationsFile),
    async saveAllocations(table) {
      // Write-then-rename: a crash mid-write leaves the previous table, never half of one.
      const tmp = `${allocationsFile}.tmp`
      await writeFile(tmp, `${JSON.stringify(table, null, 1)}\n`, { mode: 0o600 })
      await rename(tmp, allocationsFile)
    },
  }
}

async function readOrCreateToken(file: string): Promise<string> {
  try {
    await writeFile(file, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err
  }
  const token = (await readFile(file, 'utf8')).trim()
  if (!TOKEN.test(token))
    throw new AmbientError(
      StateDirErrorCode.badToken,
      `${file} does not hold a token (at least 16 base64url characters); delete it to get a new one`,
      { side: 'config' },
    )
  return token
}

async function readAllocations(file: string): Promise<AllocationTable | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined
    throw err
  }
  try {
    const v = JSON.parse(text) as Partial<AllocationTable>
    if (v.version !== 1 || typeof v.pods !== 'object' || v.pods === null || typeof v.services !== 'object' || v.services === null)
      throw new Error('not a version 1 allocation table')
    return v as AllocationTable
  } catch (err) {
    throw new AmbientError(
      StateDirErrorCode.badAllocations,
      `${file}: ${err instanceof Error ? err.message : String(err)}; delete it to allocate afresh`,
      { side: 'config', cause: err },
    )
  }
}
