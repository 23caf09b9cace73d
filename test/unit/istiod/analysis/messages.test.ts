// The catalogue and the output forms: codes are unique and stable, Istio's codes keep Istio's
// levels, and a message prints as istioctl analyze prints it.
import t from 'tap'
import { formatJson, formatText, type AnalysisMessage } from '../../../../src/istiod/analysis/index.js'
import { MessageTypes, documentationUrl, renderTemplate } from '../../../../src/istiod/analysis/messages.js'

t.test("codes are unique; IST codes carry Istio's levels; every type has a one-line fix", async (t) => {
  const types = Object.entries(MessageTypes)
  t.equal(new Set(types.map(([, m]) => m.code)).size, types.length)
  for (const [key, m] of types) {
    t.equal(m.name, key)
    t.match(m.code, /^(IST|AMB)\d{4}$/)
    t.ok((m.fix as string).length > 0 && !m.fix.includes('\n'), `${m.code} fix`)
  }
  const istio: Record<string, string> = {
    IST0001: 'Error',
    IST0101: 'Error',
    IST0106: 'Error',
    IST0109: 'Error',
    IST0118: 'Info',
    IST0127: 'Warning',
    IST0133: 'Warning',
  }
  for (const [code, level] of Object.entries(istio)) t.equal(types.find(([, m]) => m.code === code)?.[1].level, level, code)
})

t.test('templates render like Go: %s as is, %q quoted', async (t) => {
  t.equal(renderTemplate(MessageTypes.ReferencedResourceNotFound.template, ['host', 'reviewz']), 'Referenced host not found: "reviewz"')
  t.equal(renderTemplate('%s and %s', ['a']), 'a and ')
})

const MESSAGE: AnalysisMessage = {
  code: 'IST0101',
  name: 'ReferencedResourceNotFound',
  level: 'Error',
  message: 'Referenced host not found: "reviewz"',
  object: 'VirtualService default/reviews',
  file: 'default/vs.yaml',
  line: 12,
  path: 'spec.http[0].route[0].destination.host',
  fix: 'correct the host',
}

t.test('text: level, code, object, file:line, message, fix', async (t) => {
  t.equal(
    formatText(MESSAGE),
    'Error [IST0101] (VirtualService default/reviews default/vs.yaml:12) Referenced host not found: "reviewz" — fix: correct the host',
  )
  t.equal(
    formatText({ ...MESSAGE, object: undefined, line: undefined }),
    'Error [IST0101] (default/vs.yaml) Referenced host not found: "reviewz" — fix: correct the host',
  )
})

t.test('JSON: the same keys for every message, absent values null, Istio doc links for IST codes', async (t) => {
  const [j] = JSON.parse(formatJson([{ ...MESSAGE, line: undefined }])) as Record<string, unknown>[]
  t.same(Object.keys(j ?? {}).sort(), [
    'code',
    'documentationUrl',
    'file',
    'fix',
    'level',
    'line',
    'message',
    'name',
    'object',
    'origin',
    'path',
  ])
  t.equal(j?.line, null)
  t.equal(j?.documentationUrl, 'https://istio.io/latest/docs/reference/config/analysis/ist0101/')
  t.equal(documentationUrl('AMB0204'), undefined)
})
