// A throwaway mesh CA in a temp directory, for any test that needs real workload certificates
// (HBONE mTLS, ztunnel, waypoint). Real crypto: keys, CSRs and signatures are genuine.
//
//   const pki = await createTestPki()
//   t.teardown(() => pki.close())
//   const cert = await pki.issue('spiffe://cluster.local/ns/default/sa/client')
//   const expired = await pki.issue(id, { notBefore: new Date(Date.now() - 2 * HOUR), ttlMs: HOUR })
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MeshCa } from '../../src/identity/ca.js'
import { openMeshCa } from '../../src/identity/ca.js'
import type { WorkloadCertificate } from '../../src/identity/certificate.js'
import { SpiffeId } from '../../src/identity/spiffe-id.js'

export interface TestPki {
  readonly ca: MeshCa
  readonly dir: string
  readonly trustDomain: string
  /** The root certificate (the trust anchor every issued chain leads to). */
  readonly rootPem: string
  issue(id: string | SpiffeId, opts?: { ttlMs?: number; notBefore?: Date }): Promise<WorkloadCertificate>
  close(): Promise<void>
}

export async function createTestPki(options: { trustDomain?: string; now?: () => number } = {}): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-pki-'))
  const ca = await openMeshCa({
    dir,
    ...(options.trustDomain !== undefined ? { trustDomain: options.trustDomain } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
  })
  return {
    ca,
    dir,
    trustDomain: ca.trustDomain,
    rootPem: ca.rootCertPem,
    issue(id, opts = {}) {
      const identity = typeof id === 'string' ? SpiffeId.parse(id) : id
      return ca.issue(identity, {
        ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
        ...(opts.notBefore !== undefined ? { notBefore: opts.notBefore } : {}),
      })
    },
    async close() {
      await rm(dir, { recursive: true, force: true })
    },
  }
}
