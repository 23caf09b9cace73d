// `ambient authz check --config FILE [--src-identity ID] [--src-ip IP] --dst IP:PORT [--json]`: what
// the destination ztunnel would decide for one connection, and why (every policy considered, the
// first failing rule/clause of each). FILE is ztunnel's local config. Exit 0 allow (or passthrough),
// 1 deny or refused, 2 bad usage or a config with errors.
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { formatExplanation } from '../../authz/explain-format.js'
import { AmbientError, errorMessage } from '../../errors.js'
import { parseAuthority } from '../../net/authority.js'
import { SpiffeId } from '../../identity/spiffe-id.js'
import { parseLocalConfig } from '../../mesh/local-config.js'
import { isDirectory, readConfigPaths } from '../../istiod/resources/read-config.js'
import { parseConfigFiles } from '../../istiod/resources/snapshot.js'
import { translate } from '../../istiod/translate/index.js'
import { MeshState } from '../../mesh/state.js'
import { canonicalIp } from '../../net/ip.js'
import { checkAuthorization, type AuthzCheck, type SourceIpOrigin } from '../../ztunnel/authz-check.js'
import { formatData, outputOption, parseCommandArgs, required, withHelp } from '../args.js'
import type { CliIo, Command } from '../io.js'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../io.js'

const USAGE =
  'ambient authz check --config FILE|DIR [--src-identity spiffe://TD/ns/NS/sa/SA] [--src-ip IP] --dst IP:PORT [-o text|json|yaml]'

const HELP = `usage: ${USAGE}

What the destination ztunnel would decide for a connection to a workload, from ztunnel's local
config FILE or a DIR (or file) of the Kubernetes/Istio YAML istiod reads, and why: the verdict, the
deciding policy, and every policy considered with the first rule/clause that failed. In a DIR, a
file with errors is listed and skipped and the rest decides, as istiod serves it; a policy whose
HTTP rules ztunnel cannot enforce (methods, paths, …) is named with what was dropped.

  --src-identity  the peer's SPIFFE ID (also without spiffe://); omit for plaintext (no identity)
  --src-ip        the source address; default: the address of a workload with that identity
  --dst           the destination workload's IP and port (the pod's target port, not a Service port)
  -o, --output    text (default), json or yaml (the Decision with its trace); --json = -o json

exit: 0 allowed or passthrough, 1 denied or refused, 2 bad usage or an unusable config
`

export const authzCommand: Command = withHelp(HELP, async (argv, io) => {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      config: { type: 'string' },
      'src-identity': { type: 'string' },
      'src-ip': { type: 'string' },
      dst: { type: 'string' },
      json: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
    },
    USAGE,
    true,
  )
  const format = outputOption(values.output, values.json, 'text', USAGE)
  const [sub, ...extra] = positionals
  if (sub !== 'check' || extra.length > 0) throw usage('expected the subcommand "check"')
  const file = resolve(io.cwd, required(values.config, 'config', USAGE))
  const dst = parseAuthority(required(values.dst, 'dst', USAGE))
  if (!dst.ok) throw usage(`--dst: ${dst.reason}`)
  const srcIdentity = values['src-identity'] === undefined ? undefined : parseIdentity(values['src-identity'])
  const srcIpText = values['src-ip']
  const srcIp = srcIpText === undefined ? undefined : canonicalIp(srcIpText)
  if (srcIpText !== undefined && srcIp === undefined) throw usage(`--src-ip: "${srcIpText}" is not an IP address`)

  const loaded = await loadMesh(file, io)
  if (loaded === undefined) return EXIT_USAGE
  const result = checkAuthorization({ mesh: loaded.mesh, srcIdentity, srcIp, dst: dst.authority })
  if (format === 'json' || format === 'yaml') {
    io.stdout(
      formatData(
        {
          ...toJson(result),
          ...(loaded.skipped.length === 0 ? {} : { skipped: loaded.skipped }),
          ...(loaded.httpDropped.length === 0 ? {} : { httpRulesDroppedAtL4: loaded.httpDropped }),
        },
        format,
      ),
    )
  } else {
    const notes = [
      ...loaded.skipped.map((x) => `skipped (as istiod does, the rest decides): ${x}`),
      ...loaded.httpDropped.map((x) => `HTTP rules dropped at L4: ${x.policy}: ${x.reason}`),
    ]
    io.stdout([...formatCheck(result), ...(notes.length === 0 ? [] : ['', 'notes:', ...notes.map((n) => `  ${n}`)])].join('\n') + '\n')
  }
  return exitCode(result)
})

function usage(message: string): AmbientError {
  return new AmbientError('CLI_USAGE', `${message}\nusage: ${USAGE}`, { side: 'config' })
}

function parseIdentity(text: string): SpiffeId {
  try {
    return SpiffeId.parse(text.startsWith('spiffe://') ? text : `spiffe://${text}`)
  } catch (err) {
    throw usage(`--src-identity: ${errorMessage(err)}`)
  }
}

/**
 * The mesh the config describes: ztunnel's local config file, or a directory (or file) of the
 * Kubernetes/Istio YAML istiod reads, translated as istiod would. Every error printed and undefined
 * when it has any.
 */
interface LoadedMesh {
  readonly mesh: MeshState
  /** Errors in a YAML directory whose objects were left out (file:line, object, code, reason). */
  readonly skipped: readonly string[]
  /** Policies whose HTTP attributes ztunnel drops (it enforces the rest at L4). */
  readonly httpDropped: readonly { readonly policy: string; readonly reason: string }[]
}

async function loadMesh(file: string, io: CliIo): Promise<LoadedMesh | undefined> {
  if (await isDirectory(file)) return loadKubernetesConfig(file, io)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    io.stderr(`ambient authz: cannot read ${file}: ${errorMessage(err)}\n`)
    return undefined
  }
  // A file that is not ztunnel's local config but Kubernetes YAML (has `kind:` documents).
  if (/^kind:\s/m.test(text) && !/^(workloads|services|policies):/m.test(text)) return loadKubernetesConfig(file, io)
  const parsed = parseLocalConfig(text, { file })
  // A partial mesh could answer "allow" for a policy that failed to parse: refuse to guess.
  if (parsed.errors.length > 0) {
    io.stderr(
      `ambient authz: ${file} has ${parsed.errors.length} error(s):\n` +
        `${parsed.errors.map((e) => `  ${e.file}:${e.line ?? '?'} ${e.path || '(file)'}: [${e.code}] ${e.reason}`).join('\n')}\n`,
    )
    return undefined
  }
  if (parsed.kind !== 'parsed') return undefined
  const mesh = new MeshState()
  mesh.replaceAll(parsed.snapshot)
  return { mesh, skipped: [], httpDropped: [] }
}

export function exitCode(result: AuthzCheck): number {
  switch (result.kind) {
    case 'passthrough':
      return EXIT_OK
    case 'service':
      return EXIT_USAGE
    case 'rejected':
      return EXIT_FAILURE
    case 'decided':
      return result.decision.allowed ? EXIT_OK : EXIT_FAILURE
  }
}

/** The text output: the verdict first, then what was asked, then the policies. */
export function formatCheck(result: AuthzCheck): string[] {
  switch (result.kind) {
    case 'passthrough':
      return [`PASSTHROUGH: ${result.reason}`]
    case 'service':
      return [`NOT A WORKLOAD: ${result.reason}`]
    case 'rejected':
      return [
        `REFUSED (HBONE ${result.status}, before authorization): ${result.reason}`,
        `  code: ${result.code}`,
        ...(result.workload
          ? [`  destination: workload ${result.workload.namespace}/${result.workload.name} on node ${result.workload.node}`]
          : []),
      ]
    case 'decided': {
      const c = result.connection
      const w = result.workload
      const why = c.srcIdentity === undefined ? 'no --src-ip given' : 'no --src-ip given and no workload holds that identity'
      const notes = result.srcIpOrigin.kind === 'unspecified' ? [`${why}: using 0.0.0.0, so sourceIps rules cannot match`] : []
      return formatExplanation(result.decision, {
        facts: [
          ['source', `${c.srcIdentity?.toString() ?? 'no peer identity (plaintext)'} from ${c.srcIp}${originText(result.srcIpOrigin)}`],
          ['destination', `${c.dstIp}:${c.dstPort}, workload ${w.namespace}/${w.name} on node ${w.node}`],
        ],
        notes,
      })
    }
  }
}

function originText(o: SourceIpOrigin): string {
  switch (o.kind) {
    case 'given':
      return ''
    case 'workload':
      return ` (address of ${o.workload})`
    case 'unspecified':
      return ' (unspecified)'
  }
}

function toJson(result: AuthzCheck): Record<string, unknown> {
  switch (result.kind) {
    case 'passthrough':
      return { verdict: 'PASSTHROUGH', allowed: true, reason: result.reason, destination: result.dst }
    case 'service':
      return {
        verdict: 'NOT_A_WORKLOAD',
        reason: result.reason,
        service: `${result.service.namespace}/${result.service.hostname}`,
        endpoints: result.endpoints,
      }
    case 'rejected':
      return {
        verdict: 'REFUSED',
        allowed: false,
        status: result.status,
        code: result.code,
        reason: result.reason,
        ...(result.workload ? { workload: `${result.workload.namespace}/${result.workload.name}` } : {}),
      }
    case 'decided': {
      const c = result.connection
      return {
        verdict: result.decision.allowed ? 'ALLOW' : 'DENY',
        connection: {
          srcIdentity: c.srcIdentity?.toString() ?? null,
          srcIp: c.srcIp,
          srcIpOrigin: result.srcIpOrigin,
          dstIp: c.dstIp,
          dstPort: c.dstPort,
        },
        workload: `${result.workload.namespace}/${result.workload.name}`,
        decision: result.decision,
      }
    }
  }
}

/** Kubernetes/Istio YAML → istiod's translation → the mesh a ztunnel would hold. */
async function loadKubernetesConfig(path: string, io: CliIo): Promise<LoadedMesh | undefined> {
  let files
  try {
    files = await readConfigPaths([path], io.cwd)
  } catch (err) {
    io.stderr(`ambient authz: ${errorMessage(err)}\n`)
    return undefined
  }
  const parsed = parseConfigFiles(files)
  // As istiod: a file (or object) with errors contributes nothing, the valid rest is served.
  const skipped = parsed.messages
    .filter((m) => m.severity === 'error')
    .map((e) => {
      const what = e.object === undefined || e.object === '' ? 'unparsed YAML (no object read from it)' : e.object
      return `${e.file ?? path}:${e.line ?? '?'} ${what}${e.path ? ` at ${e.path}` : ''}: [${e.code}] ${e.reason}`
    })
  const translated = translate(parsed.snapshot, { nodes: 2 })
  const httpDropped = translated.messages
    .filter((m) => m.detailCode === 'AUTHZ_HTTP_ATTRIBUTES_IGNORED')
    .map((m) => ({ policy: m.object, reason: m.reason }))
  for (const m of translated.messages.filter((x) => x.severity === 'error'))
    io.stderr(`ambient authz: warning: [${m.code}] ${m.object}: ${m.reason}\n`)
  const mesh = new MeshState()
  mesh.replaceAll(translated.mesh)
  return { mesh, skipped, httpDropped }
}
