// The supervisor's view of a component's current run, which cluster readiness reads: restarts so
// far, and how long the process has been up (none while it waits in its restart backoff).
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSupervisor, type SupervisorEvent } from '../../../src/cluster/supervisor.js'
import { eventually } from '../../helpers/eventually.js'

t.test('a crashed component reads as restarted and not running during its backoff; a running one as up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'supervisor-'))
  const events: SupervisorEvent[] = []
  // A backoff far longer than the test: the crashed component stays in it.
  const supervisor = createSupervisor({
    onEvent: (e) => events.push(e),
    backoff: { initialMs: 60_000, maxMs: 60_000, resetAfterMs: 60_000 },
  })
  t.teardown(async () => {
    await supervisor.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const node = (name: string, code: string) => ({
    name,
    role: 'pod' as const,
    command: process.execPath,
    args: ['-e', code],
    env: process.env,
    logFile: join(dir, `${name.replace(/\//g, '_')}.log`),
  })
  supervisor.start(node('pod/default/crashes', 'process.exit(2)'))
  supervisor.start(node('pod/default/stays', 'setInterval(() => {}, 1000)'))
  t.equal(supervisor.current('pod/default/nothing'), undefined, 'no such component')
  await eventually(() => events.some((e) => e.kind === 'crashed' && e.name === 'pod/default/crashes'), {
    timeoutMs: 20_000,
    intervalMs: 20,
  })
  t.same(supervisor.current('pod/default/crashes'), { restarts: 1, upMs: undefined }, 'crashed once, waiting to restart')
  const stays = supervisor.current('pod/default/stays')
  t.equal(stays?.restarts, 0)
  t.ok(stays?.upMs !== undefined && stays.upMs >= 0, 'the running one is up')
  await eventually(() => (supervisor.current('pod/default/stays')?.upMs ?? 0) > (stays?.upMs ?? 0), { timeoutMs: 5_000, intervalMs: 20 })
  t.pass('its time up grows')
})
