// Output forms of the analysis: istioctl-like text lines and a JSON array (istioctl's `-o json`
// is an array of messages too; ours adds where and the fix).
import { documentationUrl, type AnalysisMessage } from './messages.js'

/** `Error [IST0101] (VirtualService default/reviews vs.yaml:12) Referenced host not found: "reviewz" — fix: ...` */
export function formatText(m: AnalysisMessage): string {
  const where = m.file === undefined ? undefined : m.line === undefined ? m.file : `${m.file}:${m.line}`
  const ref = [m.object, where].filter((s) => s !== undefined).join(' ')
  return `${m.level} [${m.code}]${ref === '' ? '' : ` (${ref})`} ${m.message} — fix: ${m.fix}`
}

/** Plain JSON values (absent ones as null) so the shape is the same for every message. */
export function formatJson(messages: readonly AnalysisMessage[]): string {
  return JSON.stringify(
    messages.map((m) => ({
      code: m.code,
      name: m.name,
      level: m.level,
      message: m.message,
      object: m.object ?? null,
      file: m.file ?? null,
      line: m.line ?? null,
      path: m.path,
      fix: m.fix,
      origin: m.origin ?? null,
      documentationUrl: documentationUrl(m.code) ?? null,
    })),
    null,
    2,
  )
}

export function hasErrors(messages: readonly AnalysisMessage[]): boolean {
  return messages.some((m) => m.level === 'Error')
}
