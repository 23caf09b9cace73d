// WaypointConfig.telemetry as the waypoint reads it (src/l7/waypoint-config.ts): optional
// (configs from an older istiod lack it), and checked for shape when present.
import t from 'tap'
import { emptyConfigDoc } from '../../helpers/waypoint-config.js'
import { parseWaypointConfig } from '../../../src/l7/waypoint-config.js'

const base = emptyConfigDoc('wp', 'spiffe://cluster.local/ns/default/sa/wp', 'service')
const parse = (telemetry?: unknown) => parseWaypointConfig(JSON.stringify(telemetry === undefined ? base : { ...base, telemetry }))

t.test('absent or well-formed telemetry is accepted', async (t) => {
  t.equal(parse().telemetry, undefined)
  t.same(parse({ accessLog: true, tracing: null }).telemetry, { accessLog: true, tracing: null })
  t.same(parse({ accessLog: false, tracing: { samplingPercent: 12.5 } }).telemetry, {
    accessLog: false,
    tracing: { samplingPercent: 12.5 },
  })
})

t.test('malformed telemetry is refused with its path', async (t) => {
  t.throws(() => parse('yes'), /telemetry: expected an object/)
  t.throws(() => parse({ accessLog: 'true', tracing: null }), /telemetry\.accessLog/)
  t.throws(() => parse({ accessLog: true, tracing: {} }), /telemetry\.tracing/)
  t.throws(() => parse({ accessLog: true, tracing: { samplingPercent: 150 } }), /telemetry\.tracing/)
})
