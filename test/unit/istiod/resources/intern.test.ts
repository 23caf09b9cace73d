// internSnapshot (src/istiod/resources/intern.ts): a re-read config shares the previous snapshot's
// objects and lists wherever nothing changed, and is still deep-equal to what was read.
import t from 'tap'
import { internSnapshot } from '../../../../src/istiod/resources/intern.js'
import { parseConfigFiles } from '../../../../src/istiod/resources/snapshot.js'

const policy = (name: string, port: number) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  rules: [{to: [{operation: {ports: ["${port}"]}}]}]
---
`
const namespace = (labels: Record<string, string>) => `apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: ${JSON.stringify(labels)}}
---
`

const read = (files: Record<string, string>) => parseConfigFiles(Object.entries(files).map(([file, text]) => ({ file, text }))).snapshot

t.test('what is kept, what is new', async (t) => {
  const base = { 'ns.yaml': namespace({ a: '1' }), 'ap.yaml': policy('one', 80) + policy('two', 81) }
  const first = read(base)
  t.equal(internSnapshot(first, undefined), first, 'no previous snapshot: as read')

  const rows: { name: string; files: Record<string, string>; kept: string[]; changed: string[] }[] = [
    { name: 'every file read again, same text', files: base, kept: ['Namespace', 'AuthorizationPolicy'], changed: [] },
    {
      name: 'one policy changes',
      files: { ...base, 'ap.yaml': policy('one', 80) + policy('two', 82) },
      kept: ['Namespace'],
      changed: ['two'],
    },
    {
      name: 'a label changes',
      files: { ...base, 'ns.yaml': namespace({ a: '2' }) },
      kept: ['AuthorizationPolicy'],
      changed: ['Namespace'],
    },
    // Same content one line lower: the object's source (its line) is part of it; messages point there.
    {
      name: 'a policy moves down a line',
      files: { ...base, 'ap.yaml': `\n${policy('one', 80)}${policy('two', 81)}` },
      kept: ['Namespace'],
      changed: ['one', 'two'],
    },
    {
      name: 'a policy is added',
      files: { ...base, 'ap.yaml': base['ap.yaml'] + policy('three', 83) },
      kept: ['Namespace'],
      changed: ['three'],
    },
    { name: 'the last policy is removed', files: { ...base, 'ap.yaml': policy('one', 80) }, kept: ['Namespace'], changed: [] },
    // The first removed: the second is now the file's first document, on another line (a new source).
    { name: 'the first policy is removed', files: { ...base, 'ap.yaml': policy('two', 81) }, kept: ['Namespace'], changed: ['two'] },
  ]
  for (const row of rows) {
    const next = read(row.files)
    const interned = internSnapshot(next, first)
    t.same(interned, next, `${row.name}: deep-equal to what was read`)
    for (const kind of row.kept) t.equal(interned[kind as 'Namespace'], first[kind as 'Namespace'], `${row.name}: ${kind} list kept`)
    for (const ap of interned.AuthorizationPolicy) {
      const before = first.AuthorizationPolicy.find((p) => p.metadata.name === ap.metadata.name)
      const isNew = row.changed.includes(ap.metadata.name)
      t.equal(ap === before, !isNew, `${row.name}: policy ${ap.metadata.name} ${isNew ? 'is new' : 'is the previous object'}`)
    }
    if (row.changed.includes('Namespace')) t.not(interned.Namespace[0], first.Namespace[0], `${row.name}: the Namespace is new`)
  }
  t.equal(internSnapshot(read(base), first), first, 'nothing changed at all: the previous snapshot itself')
})
