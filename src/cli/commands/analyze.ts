// `ambient analyze PATH... [-o text|json] [--nodes N]`: what istiod thinks of a config directory (or
// files), as `istioctl analyze` prints it: every message with its code, object, file:line and a
// fix. Reads the files once through the parser (no watcher), translates them as istiod would, and
// analyzes. Exit 1 when any message is an Error (istioctl analyze's default failure threshold), 0
// otherwise; 2 for bad usage or a path that cannot be read.
import { AmbientError, errorMessage } from '../../errors.js'
import {
  analyze,
  createLineLocator,
  formatJson,
  formatText,
  hasErrors,
  internalError,
  type AnalysisMessage,
} from '../../istiod/analysis/index.js'
import { readConfigPaths, type ConfigFileText } from '../../istiod/resources/read-config.js'
import { parseConfigFiles } from '../../istiod/resources/snapshot.js'
import { translate, type TranslationMessage } from '../../istiod/translate/index.js'
import { formatData, intOption, outputOption, parseCommandArgs, withHelp } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../io.js'

const USAGE = 'ambient analyze DIR|FILE... [-o text|json|yaml] [--nodes N]'

const HELP = `usage: ${USAGE}

Analyzes Istio config as istiod reads it (every *.yaml/*.yml under each DIR, recursively; names
starting with "." are skipped) and prints every problem at once: level, code (IST0xxx as in
istioctl analyze, AMB0xxx for the emulator's ambient checks), object, file:line and a fix.

  -o, --output  text (default), json or yaml (a list of messages)
  --nodes       nodes the emulated cluster has, for placement checks (default 2)

exit: 0 no errors (warnings allowed), 1 some Error-level message, 2 bad usage or unreadable path
`

export const analyzeCommand: Command = withHelp(HELP, async (argv, io) => {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      output: { type: 'string', short: 'o' },
      nodes: { type: 'string' },
    },
    USAGE,
    true,
  )
  const output = outputOption(values.output, undefined, 'text', USAGE)
  const nodes = values.nodes === undefined ? 2 : intOption(values.nodes, 'nodes', 1, 255)
  if (positionals.length === 0) throw usage('a directory or file to analyze is required')

  let files: ConfigFileText[]
  try {
    files = await readConfigPaths(positionals, io.cwd)
  } catch (err) {
    io.stderr(`ambient analyze: ${errorMessage(err)}\n`)
    return EXIT_USAGE
  }
  const parsed = parseConfigFiles(files)
  const translated = translation(parsed.snapshot, nodes)
  const messages = analyze(parsed.snapshot, parsed.messages, translated, { locate: createLineLocator(files) })
  if (translated.internal !== undefined) messages.push(internalError(`translation failed: ${translated.internal}`))

  if (output === 'json') io.stdout(formatJson(messages) + '\n')
  else if (output === 'yaml') io.stdout(formatData(JSON.parse(formatJson(messages)), 'yaml'))
  else io.stdout(textReport(messages, positionals, files.length))
  return hasErrors(messages) ? EXIT_FAILURE : EXIT_OK
})

/** Translation's own findings; a translation that throws is reported, not fatal, so analysis still prints. */
function translation(
  snapshot: Parameters<typeof translate>[0],
  nodes: number,
): { messages: readonly TranslationMessage[]; internal?: string } {
  try {
    return { messages: translate(snapshot, { nodes }).messages }
  } catch (err) {
    return { messages: [], internal: errorMessage(err) }
  }
}

function textReport(messages: readonly AnalysisMessage[], targets: readonly string[], fileCount: number): string {
  if (messages.length === 0)
    return `No validation issues found when analyzing ${targets.join(', ')} (${fileCount} file${fileCount === 1 ? '' : 's'}).\n`
  const counts = (['Error', 'Warning', 'Info'] as const)
    .map((l) => [l, messages.filter((m) => m.level === l).length] as const)
    .filter(([, n]) => n > 0)
  return (
    `${messages.map(formatText).join('\n')}\n\n` +
    `${counts.map(([l, n]) => `${n} ${l.toLowerCase()}${n === 1 ? '' : 's'}`).join(', ')} in ` +
    `${fileCount} file${fileCount === 1 ? '' : 's'}\n`
  )
}

function usage(message: string): AmbientError {
  return new AmbientError('CLI_USAGE', `${message}\nusage: ${USAGE}`, { side: 'config' })
}
