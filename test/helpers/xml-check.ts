// A small well-formedness check for the SVG and HTML the tools write: enough to catch an unclosed or
// misnested element, a second root or an unescaped ampersand, without an XML parser dependency.

/** Tag balance of an SVG (XML): every opened element closed in order, one root <svg>. */
export function checkXml(text: string): string | undefined {
  const stack: string[] = []
  let roots = 0
  for (const m of text.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:"[^"]*"|'[^']*'|[^'">])*)>/g)) {
    const [, close, name, rest] = m
    if (close) {
      if (stack.pop() !== name) return `</${name}> closes ${stack.at(-1) ?? 'nothing'}`
    } else if (!rest!.endsWith('/')) {
      if (stack.length === 0) roots++
      stack.push(name!)
    } else if (stack.length === 0) roots++
  }
  if (stack.length > 0) return `unclosed ${stack.join(', ')}`
  if (roots !== 1) return `${roots} root elements`
  if (/&(?!amp;|lt;|gt;|quot;|apos;|#\d+;)/.test(text)) return 'an unescaped &'
  return undefined
}
