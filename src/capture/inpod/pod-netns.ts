// Finding a pod's network namespace on the node, as istio-cni's node agent must when it learns of a
// pod from the API server: every namespace the node has is a candidate (the named ones under
// /var/run/netns and /run/netns, and each process's /proc/<pid>/ns/net), deduplicated by the inode
// nsfs gives it; the pod's is the one that holds the pod's IP on an interface (listed from inside
// with the capture addon). Exactly one must: none means the pod's sandbox is not up yet, several
// means the IP is not unique on this node; both are refused with a stable code.
import { readdir, stat } from 'node:fs/promises'
import { AmbientError } from '../../errors.js'
import { loadCaptureAddon } from './addon.js'

export const PodNetnsErrorCode = {
  notFound: 'CAPTURE_INPOD_POD_NETNS_NOT_FOUND',
  ambiguous: 'CAPTURE_INPOD_POD_NETNS_AMBIGUOUS',
} as const

export interface NetnsCandidate {
  readonly path: string
  /** `<dev>:<inode>` of the namespace (the same for every path to it). */
  readonly id: string
}

/** One path per namespace, the first seen (named ones come first, so they win over /proc). Pure. */
export function dedupeNetns(candidates: readonly NetnsCandidate[]): NetnsCandidate[] {
  const seen = new Set<string>()
  return candidates.filter((c) => {
    if (seen.has(c.id)) return false
    seen.add(c.id)
    return true
  })
}

/** The one candidate whose addresses include ip. Pure. */
export function pickPodNetns(ip: string, candidates: readonly { path: string; addresses: readonly string[] }[]): string {
  const hits = candidates.filter((c) => c.addresses.includes(ip))
  if (hits.length === 1) return hits[0]!.path
  if (hits.length === 0)
    throw new AmbientError(PodNetnsErrorCode.notFound, `no network namespace on this node holds ${ip} (yet)`, { side: 'config' })
  throw new AmbientError(
    PodNetnsErrorCode.ambiguous,
    `${ip} is held by several network namespaces: ${hits.map((h) => h.path).join(', ')}`,
    {
      side: 'config',
    },
  )
}

export interface PodNetnsLookupDeps {
  readonly netnsDirs?: readonly string[]
  readonly procDir?: string
  readonly addresses?: (path: string) => string[]
}

/** Every namespace of the node, one path each. */
export async function nodeNetns(deps: PodNetnsLookupDeps = {}): Promise<NetnsCandidate[]> {
  const paths: string[] = []
  for (const dir of deps.netnsDirs ?? ['/var/run/netns', '/run/netns']) {
    for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) paths.push(`${dir}/${name}`)
  }
  const proc = deps.procDir ?? '/proc'
  for (const pid of await readdir(proc).catch(() => [] as string[])) if (/^\d+$/.test(pid)) paths.push(`${proc}/${pid}/ns/net`)
  const candidates: NetnsCandidate[] = []
  for (const path of paths) {
    const st = await stat(path).catch(() => undefined)
    if (st !== undefined) candidates.push({ path, id: `${st.dev}:${st.ino}` })
  }
  return dedupeNetns(candidates)
}

/** The path of the namespace holding ip (a namespace that vanishes while listed is skipped). */
export async function findPodNetns(ip: string, deps: PodNetnsLookupDeps = {}): Promise<string> {
  const addresses = deps.addresses ?? ((path: string) => loadCaptureAddon().interfaceAddresses(path))
  const listed: { path: string; addresses: string[] }[] = []
  for (const c of await nodeNetns(deps)) {
    try {
      listed.push({ path: c.path, addresses: addresses(c.path) })
    } catch {
      /* gone, or not a namespace we may enter */
    }
  }
  return pickPodNetns(ip, listed)
}
