import t from 'tap'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { childLogger, createLogger, getLevels, parseLevelSpec, setLevel } from '../../../src/observability/logger.js'

t.test('records are data: level names, component, scope, ISO time', async (t) => {
  const { logger, records } = createCapturingLogger({ component: 'ztunnel' })
  childLogger(logger, 'xds').info({ resources: 3 }, 'pushed')
  t.match(records[0], { level: 'info', component: 'ztunnel', scope: 'xds', resources: 3, msg: 'pushed' })
  t.match(records[0]!.time, /^\d{4}-\d\d-\d\dT/)
  t.notOk('pid' in records[0]! || 'hostname' in records[0]!)
})

t.test('childLogger is cached per parent and scope', async (t) => {
  const { logger } = createCapturingLogger()
  t.equal(childLogger(logger, 'access'), childLogger(logger, 'access'))
  t.not(childLogger(logger, 'access'), childLogger(logger, 'xds'))
  const node = logger.child({ node: 'n1' })
  const access = childLogger(node, 'access')
  t.not(access, childLogger(logger, 'access'))
})

t.test('setLevel: default, per-scope overrides, and reset', async (t) => {
  const { logger, records, clear } = createCapturingLogger({ level: 'info' })
  const access = childLogger(logger, 'access')
  const xds = childLogger(logger, 'xds')
  const perFlow = access.child({ flow: 1 })
  const emit = () => {
    clear()
    for (const l of [logger, access, xds, perFlow]) l.debug('d')
    return records.map((r) => r.scope ?? 'root')
  }
  t.same(emit(), [])
  t.same(setLevel(logger, 'access:debug'), { level: 'info', scopes: { access: 'debug' } })
  t.same(emit(), ['access', 'access'], 'override reaches the scope and its children')
  const later = childLogger(logger.child({ node: 'n2' }), 'access')
  later.debug('d')
  t.equal(records.length, 3, 'scope loggers made later get the override')
  t.same(setLevel(access, 'debug'), { level: 'debug', scopes: {} }, 'any logger of the tree works')
  t.same(emit(), ['root', 'access', 'xds', 'access'])
  setLevel(logger, 'warn,xds:trace')
  t.same(emit(), ['xds'])
  t.same(getLevels(logger), { level: 'warn', scopes: { xds: 'trace' } })
})

t.test('bad level specs change nothing and carry a code', async (t) => {
  const { logger } = createCapturingLogger({ level: 'info' })
  for (const spec of ['loud', 'access:loud', ':debug', 'debug,access:nope', '']) {
    t.throws(() => setLevel(logger, spec), { code: 'LOG_LEVEL_INVALID' }, spec)
  }
  t.same(getLevels(logger), { level: 'info', scopes: {} })
  t.same(parseLevelSpec(' Info , access : DEBUG '), { level: 'info', scopes: { access: 'debug' } })
  t.throws(() => createLogger({ component: 'x', level: 'loud' as 'info' }), { code: 'LOG_LEVEL_INVALID' })
})

t.test('loggers not made by createLogger are refused', async (t) => {
  const { pino } = await import('pino')
  const foreign = pino({ enabled: false })
  t.throws(() => childLogger(foreign, 'x'), { code: 'LOG_NOT_OURS' })
})

t.test('createLogger writes to stdout by default', async (t) => {
  const logger = createLogger({ component: 'cli', level: 'silent' })
  t.equal(logger.level, 'silent')
  logger.info('never printed')
})

t.test('waitFor: past records, future records, timeout', async (t) => {
  const { logger, waitFor } = createCapturingLogger()
  logger.info('first')
  t.equal((await waitFor((r) => r.msg === 'first')).msg, 'first')
  const pending = waitFor((r) => r.msg === 'second')
  setImmediate(() => {
    logger.info('other')
    logger.info('second')
  })
  t.equal((await pending).msg, 'second')
  await t.rejects(
    waitFor((r) => r.msg === 'never', 10),
    { code: 'TEST_LOG_TIMEOUT' },
  )
})
