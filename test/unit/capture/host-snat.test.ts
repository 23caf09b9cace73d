// The node's kubelet probe SNAT (src/capture/inpod/host-snat.ts): the planner from the IPs applied
// to the IPs of the enrolled pods, and the rendering of deploy/capture/ambient-host.rules.
import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  createHostSnat,
  HOST_RULES_PATH,
  HOST_SNAT_CHAIN,
  HostSnatErrorCode,
  planHostSnat,
  renderHostSnatRules,
} from '../../../src/capture/inpod/host-snat.js'
import { PROBE_SNAT_IP } from '../../../src/capture/inpod/rules.js'
import { needs, requires } from '../../helpers/requires.js'

t.test('planHostSnat: table', async (t) => {
  const cases: { name: string; applied: string[] | undefined; wanted: string[]; add: string[]; del: string[]; apply: boolean }[] = [
    { name: 'first pass, no pods: rewrite (flushes stale entries)', applied: undefined, wanted: [], add: [], del: [], apply: true },
    {
      name: 'first pass with pods',
      applied: undefined,
      wanted: ['10.1.1.2', '10.1.1.1'],
      add: ['10.1.1.1', '10.1.1.2'],
      del: [],
      apply: true,
    },
    { name: 'pod enrolled', applied: ['10.1.1.1'], wanted: ['10.1.1.1', '10.1.1.3'], add: ['10.1.1.3'], del: [], apply: true },
    { name: 'pod removed', applied: ['10.1.1.1', '10.1.1.3'], wanted: ['10.1.1.1'], add: [], del: ['10.1.1.3'], apply: true },
    { name: 'unchanged: no command', applied: ['10.1.1.1'], wanted: ['10.1.1.1'], add: [], del: [], apply: false },
    {
      name: 'duplicates and empty IPs ignored',
      applied: [],
      wanted: ['10.1.1.1', '10.1.1.1', ''],
      add: ['10.1.1.1'],
      del: [],
      apply: true,
    },
    { name: 'IP replaced', applied: ['10.1.1.1'], wanted: ['10.1.1.9'], add: ['10.1.1.9'], del: ['10.1.1.1'], apply: true },
  ]
  for (const c of cases) {
    const plan = planHostSnat(c.applied === undefined ? undefined : new Set(c.applied), c.wanted)
    t.same(plan, { add: c.add, del: c.del, apply: c.apply }, c.name)
  }
  t.throws(() => planHostSnat(undefined, ['10.1.1.1; -j ACCEPT']), { code: HostSnatErrorCode.badIp }, 'not an IPv4 address')
  t.throws(() => planHostSnat(undefined, ['fd00::1']), { code: HostSnatErrorCode.badIp }, 'IPv6 not handled')
})

t.test('renderHostSnatRules: one SNAT rule per pod in the chain, comments dropped', async (t) => {
  const template = readFileSync(HOST_RULES_PATH, 'utf8')
  const rule = (ip: string) => `-A ${HOST_SNAT_CHAIN} -d ${ip}/32 -p tcp -m owner --socket-exists -j SNAT --to-source ${PROBE_SNAT_IP}`
  t.equal(renderHostSnatRules(template, []), `*nat\n:${HOST_SNAT_CHAIN} - [0:0]\nCOMMIT\n`, 'no pods: an empty chain')
  t.equal(
    renderHostSnatRules(template, ['10.1.1.2', '10.1.1.1']),
    `*nat\n:${HOST_SNAT_CHAIN} - [0:0]\n${rule('10.1.1.1')}\n${rule('10.1.1.2')}\nCOMMIT\n`,
    'sorted, one line each',
  )
  t.notMatch(renderHostSnatRules(template, ['10.1.1.1']), /POSTROUTING|-F|-X/, 'touches only its own chain (the jump is added apart, once)')
})

t.test(
  'createHostSnat: a node namespace that cannot be entered is CAPTURE_HOST_SNAT_UNAVAILABLE',
  { skip: requires(t, needs.tool('nsenter')) },
  async (t) => {
    // nsenter fails to open the path, so nothing runs anywhere (never the real host's nat table).
    const snat = createHostSnat('/nonexistent/ambient-test/ns/net')
    await t.rejects(snat.sync(['10.1.1.1']), { code: HostSnatErrorCode.unavailable })
    t.same([...snat.applied()], [], 'nothing recorded as applied')
  },
)
