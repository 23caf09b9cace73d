// Generated JavaScript as dist runs it (scripts/gen-proto.mjs --copy): the same code without comments
// and indentation. V8 keeps a module's whole source text for as long as the process runs, so what a
// generated file carries for its readers (pbjs's JSDoc, from which pbts writes the typings) costs
// every process that loads it.
import ts from 'typescript'

/**
 * The same module without comments and leading spaces: TypeScript's printer drops the comments
 * (a parse, so nothing inside a string is touched); a line's leading spaces can then be dropped
 * because no string in pbjs's output spans lines (no template literal, no line continuation),
 * which is checked rather than assumed.
 */
export function compactGeneratedJs(source) {
  const file = ts.createSourceFile('messages.js', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS)
  const printed = ts.createPrinter({ removeComments: true }).printFile(file)
  if (/`|\\\r?\n/.test(printed)) throw new Error('generated code with a template literal or a line continuation: not compacted')
  return printed.replace(/^[ \t]+/gm, '')
}
