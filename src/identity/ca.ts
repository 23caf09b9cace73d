// The mesh CA: istiod's self-signed root ("istio-ca-secret" in Istio, a directory here) that signs
// workload CSRs. The root is ECDSA P-256, created on first use and loaded afterwards; an existing
// key is never overwritten, and a directory holding only part of a CA is refused rather than
// "repaired", because a silently regenerated root would split the mesh into two trust domains.
// Signing needs no ASN.1 library (leaf-certificate.ts, csr.ts): @peculiar/x509 is loaded only to
// create a root, so a ztunnel that is its own CA (local config) does not hold it (issue 14, RSS).
import { randomBytes, X509Certificate, createPrivateKey, KeyObject } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AmbientError } from '../errors.js'
import type { WorkloadCertificate } from './certificate.js'
import { workloadCertificate } from './certificate.js'
import { crypto, createCsr, EC_KEY, parseCsr, SIGNING } from './csr.js'
import { signLeafCertificate } from './leaf-certificate.js'
import { DEFAULT_TRUST_DOMAIN, SpiffeId } from './spiffe-id.js'

export const CaErrorCode = {
  dirCorrupt: 'IDENTITY_CA_DIR_CORRUPT',
  trustDomainMismatch: 'IDENTITY_TRUST_DOMAIN_MISMATCH',
  identityMismatch: 'IDENTITY_CSR_IDENTITY_MISMATCH',
  ttlInvalid: 'IDENTITY_TTL_INVALID',
  notFound: 'IDENTITY_CA_NOT_FOUND',
} as const

export const CA_FILES = { cert: 'root-cert.pem', key: 'root-key.pem', meta: 'ca.json' } as const

/** Istio's defaults: workload certificates live 24 h, at most 90 days; the self-signed root 10 years. */
export const DEFAULT_WORKLOAD_TTL_MS = 24 * 3_600_000
export const DEFAULT_MAX_WORKLOAD_TTL_MS = 90 * 24 * 3_600_000
const ROOT_TTL_MS = 10 * 365 * 24 * 3_600_000

export interface MeshCaOptions {
  readonly dir: string
  /** Used when creating; when loading it must match the stored one (if given). */
  readonly trustDomain?: string
  readonly now?: () => number
  readonly maxTtlMs?: number
  /** 'fail' for callers that must use an existing CA (a mistyped directory must not mint a new root). */
  readonly ifMissing?: 'create' | 'fail'
}

export interface SignOptions {
  readonly ttlMs?: number
  /** The caller's authenticated identity: the CSR must name exactly it (Istio checks the same). */
  readonly expectedIdentity?: SpiffeId
  /** Backdating, for tests that need an already-expired certificate. */
  readonly notBefore?: Date
  /** Extra DNS and IP SANs next to the SPIFFE URI (istiod's serving certificate). */
  readonly dnsNames?: readonly string[]
  readonly ipAddresses?: readonly string[]
}

export interface MeshCa {
  readonly trustDomain: string
  readonly dir: string
  readonly rootCertPath: string
  readonly rootCertPem: string
  /** True when this call created the CA, false when it loaded an existing one. */
  readonly created: boolean
  /** Istio's CreateCertificate: returns leaf, intermediates (none here), root. */
  signCsr(csrPem: string, options?: SignOptions): Promise<{ certChainPem: string[] }>
  /** Generates a key and CSR for `identity` and signs it: the whole credential in one call. */
  issue(identity: SpiffeId, options?: Omit<SignOptions, 'expectedIdentity'>): Promise<WorkloadCertificate>
}

interface RootMaterial {
  trustDomain: string
  certPem: string
  signingKey: KeyObject
}

/** Loads the CA in `dir`, or creates it when none of its files exist yet. */
export async function openMeshCa(options: MeshCaOptions): Promise<MeshCa> {
  const now = options.now ?? Date.now
  const maxTtlMs = options.maxTtlMs ?? DEFAULT_MAX_WORKLOAD_TTL_MS
  const paths = { cert: join(options.dir, CA_FILES.cert), key: join(options.dir, CA_FILES.key), meta: join(options.dir, CA_FILES.meta) }
  const existing = await readExisting(paths)
  let root: RootMaterial
  let created = false
  if (existing === undefined) {
    if (options.ifMissing === 'fail')
      throw new AmbientError(CaErrorCode.notFound, `no CA in ${options.dir} (create one with \`ambient ca init --dir ${options.dir}\`)`, {
        side: 'config',
      })
    root = await createRoot(options.dir, paths, options.trustDomain ?? DEFAULT_TRUST_DOMAIN, now())
    created = true
  } else {
    root = await loadRoot(existing, options.dir)
    if (options.trustDomain !== undefined && options.trustDomain !== root.trustDomain) {
      throw new AmbientError(
        CaErrorCode.trustDomainMismatch,
        `CA in ${options.dir} is for trust domain "${root.trustDomain}", not "${options.trustDomain}"`,
        { side: 'config' },
      )
    }
  }
  const rootCert = new X509Certificate(root.certPem)
  const rootNotAfterMs = Date.parse(rootCert.validTo)

  async function signCsr(csrPem: string, opts: SignOptions = {}): Promise<{ certChainPem: string[] }> {
    const ttlMs = opts.ttlMs ?? DEFAULT_WORKLOAD_TTL_MS
    if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > maxTtlMs) {
      throw new AmbientError(CaErrorCode.ttlInvalid, `requested TTL ${ttlMs} ms is outside (0, ${maxTtlMs}] ms`, { side: 'downstream' })
    }
    const csr = await parseCsr(csrPem)
    if (csr.identity.trustDomain !== root.trustDomain) {
      throw new AmbientError(CaErrorCode.trustDomainMismatch, `CSR identity ${csr.identity} is not in trust domain "${root.trustDomain}"`, {
        side: 'downstream',
      })
    }
    if (opts.expectedIdentity && !opts.expectedIdentity.equals(csr.identity)) {
      throw new AmbientError(CaErrorCode.identityMismatch, `CSR names ${csr.identity}, caller is ${opts.expectedIdentity}`, {
        side: 'downstream',
      })
    }
    const notBefore = opts.notBefore ?? new Date(now())
    // A leaf never outlives the root that vouches for it.
    const notAfter = new Date(Math.min(notBefore.getTime() + ttlMs, rootNotAfterMs))
    const leaf = signLeafCertificate({
      issuer: rootCert,
      issuerKey: root.signingKey,
      spki: csr.spki,
      serialHex: serial(),
      notBefore,
      notAfter,
      uris: [csr.identity.toString()],
      ...(opts.dnsNames === undefined ? {} : { dnsNames: opts.dnsNames }),
      ...(opts.ipAddresses === undefined ? {} : { ipAddresses: opts.ipAddresses }),
    })
    return { certChainPem: [leaf, root.certPem] }
  }

  return Object.freeze({
    trustDomain: root.trustDomain,
    dir: options.dir,
    rootCertPath: paths.cert,
    rootCertPem: root.certPem,
    created,
    signCsr,
    async issue(identity: SpiffeId, opts: Omit<SignOptions, 'expectedIdentity'> = {}): Promise<WorkloadCertificate> {
      const { csrPem, keyPem } = await createCsr(identity)
      const { certChainPem } = await signCsr(csrPem, opts)
      return workloadCertificate({ keyPem, chainPem: certChainPem, rootsPem: [root.certPem] })
    },
  })
}

type CaPaths = { cert: string; key: string; meta: string }
type Existing = { cert: string; key: string; meta: string }

/** undefined when no CA file exists; throws when only some do. */
async function readExisting(paths: CaPaths): Promise<Existing | undefined> {
  const read = async (p: string) =>
    readFile(p, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw corrupt(`cannot read ${p}: ${err.code ?? err.message}`, err)
    })
  const [cert, key, meta] = await Promise.all([read(paths.cert), read(paths.key), read(paths.meta)])
  if (cert === undefined && key === undefined && meta === undefined) return undefined
  if (cert === undefined || key === undefined || meta === undefined) {
    const missing = Object.entries({ cert, key, meta })
      .filter(([, v]) => v === undefined)
      .map(([k]) => CA_FILES[k as keyof typeof CA_FILES])
    throw corrupt(`CA directory is incomplete: missing ${missing.join(', ')}; restore the files or use an empty directory`)
  }
  return { cert, key, meta }
}

async function loadRoot(files: Existing, dir: string): Promise<RootMaterial> {
  let trustDomain: unknown
  try {
    trustDomain = (JSON.parse(files.meta) as { trustDomain?: unknown }).trustDomain
  } catch (err) {
    throw corrupt(`${CA_FILES.meta} in ${dir} is not JSON`, err)
  }
  if (typeof trustDomain !== 'string') throw corrupt(`${CA_FILES.meta} in ${dir} has no trustDomain`)
  try {
    SpiffeId.of({ trustDomain, namespace: 'x' })
  } catch (err) {
    throw corrupt(`${CA_FILES.meta} in ${dir} has an invalid trustDomain`, err)
  }
  let cert: X509Certificate
  try {
    cert = new X509Certificate(files.cert)
  } catch (err) {
    throw corrupt(`${CA_FILES.cert} in ${dir} does not parse`, err)
  }
  if (!cert.ca || !cert.checkIssued(cert) || !cert.verify(cert.publicKey))
    throw corrupt(`${CA_FILES.cert} in ${dir} is not a self-signed CA certificate`)
  try {
    const key = createPrivateKey(files.key)
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not an ECDSA P-256 key')
    if (!cert.checkPrivateKey(key)) throw new Error('key does not match certificate')
    return { trustDomain, certPem: files.cert, signingKey: key }
  } catch (err) {
    throw corrupt(`${CA_FILES.key} in ${dir} is unusable or does not match ${CA_FILES.cert}`, err)
  }
}

async function createRoot(dir: string, paths: CaPaths, trustDomain: string, nowMs: number): Promise<RootMaterial> {
  SpiffeId.of({ trustDomain, namespace: 'x' }) // validates the trust domain (IDENTITY_SPIFFE_INVALID)
  await import('reflect-metadata') // @peculiar/x509's ASN.1 schema decorators need it loaded first
  const x509 = await import('@peculiar/x509')
  const keys = await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: [{ O: [trustDomain] }], // Istio's self-signed root: O=<trust domain>
      keys,
      notBefore: new Date(nowMs),
      notAfter: new Date(nowMs + ROOT_TTL_MS),
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  const certPem = `${cert.toString('pem')}\n`
  const signingKey = KeyObject.from(keys.privateKey)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  // 'wx' fails if the file appeared meanwhile (another process creating the same CA): we would
  // rather fail than overwrite a key someone else already trusts. The key goes first and ca.json
  // last, so an interrupted creation leaves a directory that is refused as incomplete.
  try {
    await writeFile(paths.key, signingKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 })
    await writeFile(paths.cert, certPem, { flag: 'wx', mode: 0o644 })
    await writeFile(paths.meta, `${JSON.stringify({ trustDomain }, null, 2)}\n`, { flag: 'wx', mode: 0o644 })
  } catch (err) {
    throw corrupt(`cannot create the CA in ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err)
  }
  return { trustDomain, certPem, signingKey }
}

// 128 random bits with the top bit cleared: positive and unique (RFC 5280 4.1.2.2 allows 20 octets).
function serial(): string {
  const bytes = randomBytes(16)
  bytes[0] = bytes[0]! & 0x7f
  return bytes.toString('hex')
}

function corrupt(message: string, cause?: unknown): AmbientError {
  return new AmbientError(CaErrorCode.dirCorrupt, message, { side: 'config', cause })
}
