// What `--capture inpod` needs, checked before anything starts: root, iproute2, iptables-restore,
// the addon, and a namespace that can really be created. One error, one stable code (the first
// thing missing), and a message listing everything missing.
import { AmbientError, errorMessage } from '../../errors.js'
import { INPOD_ADDON_CODE, loadCaptureAddon } from './addon.js'
import { run } from './command.js'

export const InpodPreflightCode = {
  notRoot: 'CAPTURE_INPOD_NOT_ROOT',
  noIproute: 'CAPTURE_INPOD_NO_IPROUTE',
  noIptables: 'CAPTURE_INPOD_NO_IPTABLES',
  noAddon: INPOD_ADDON_CODE,
  noNetns: 'CAPTURE_INPOD_NO_NETNS',
  noSetpriv: 'CAPTURE_INPOD_NO_SETPRIV',
} as const

/** What a caller needs beyond the basics: `setpriv` runs a sidecar as uid 1337 (sidecar mode). */
export interface InpodNeeds {
  readonly setpriv?: boolean
}

export interface Missing {
  readonly code: string
  readonly what: string
}

export async function inpodMissing(probeName: string, uid: number | undefined, needs: InpodNeeds = {}): Promise<Missing[]> {
  const missing: Missing[] = []
  if (process.platform !== 'linux')
    return [{ code: InpodPreflightCode.noNetns, what: `Linux network namespaces (this is ${process.platform})` }]
  if (uid !== 0)
    missing.push({
      code: InpodPreflightCode.notRoot,
      what: 'root (network namespaces and iptables need it; run as root or use the default socks capture)',
    })
  const ip = await run('ip', ['-V']).then(
    () => true,
    () => false,
  )
  if (!ip) missing.push({ code: InpodPreflightCode.noIproute, what: 'the `ip` command (apt-get install iproute2)' })
  const ipt = await run('iptables-restore', ['--version']).then(
    () => true,
    () => false,
  )
  if (!ipt) missing.push({ code: InpodPreflightCode.noIptables, what: 'iptables-restore (apt-get install iptables)' })
  if (
    needs.setpriv === true &&
    !(await run('setpriv', ['--version']).then(
      () => true,
      () => false,
    ))
  )
    missing.push({ code: InpodPreflightCode.noSetpriv, what: 'setpriv, to run sidecars as uid 1337 (apt-get install util-linux)' })
  try {
    loadCaptureAddon()
  } catch (err) {
    missing.push({ code: InpodPreflightCode.noAddon, what: errorMessage(err) })
  }
  if (ip && uid === 0) {
    try {
      await run('ip', ['netns', 'add', probeName])
      await run('ip', ['netns', 'delete', probeName])
    } catch (err) {
      missing.push({ code: InpodPreflightCode.noNetns, what: `a working \`ip netns add\` (${errorMessage(err)})` })
    }
  }
  return missing
}

/** Throws the one error when anything is missing. */
export async function requireInpod(probeName: string, uid: number | undefined, needs: InpodNeeds = {}): Promise<void> {
  const missing = await inpodMissing(probeName, uid, needs)
  const first = missing[0]
  if (first === undefined) return
  throw new AmbientError(first.code, `--capture inpod needs: ${missing.map((m) => m.what).join('; ')}`, {
    side: 'config',
    details: { missing: missing.map((m) => m.code) },
  })
}
