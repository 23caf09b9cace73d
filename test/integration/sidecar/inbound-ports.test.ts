// A sidecar's inbound listeners follow its config: a Service port added later gets a listener on
// the pod IP, a removed one stops accepting; a port someone else holds is reported
// (inbound_listen_failed) while every other port keeps serving.
import t from 'tap'
import net from 'node:net'
import { eventually } from '../../helpers/eventually.js'
import { FILES, startSidecarMesh } from '../../helpers/sidecar-mesh.js'

const connects = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(port, host)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })

const withPorts = (ports: number[]): string =>
  FILES['reviews.yaml']!.replace(
    `    - name: http
      port: 9080
      targetPort: 9080
`,
    `    - name: http
      port: 9080
      targetPort: 9080
${ports.map((p) => `    - name: tcp-${p}\n      port: ${p}\n      targetPort: ${p}\n`).join('')}`,
  )

t.test('inbound listeners follow the config', async (t) => {
  const h = await startSidecarMesh(t)
  const podIp = h.workload('reviews-v1').addresses[0]!
  t.notOk(await connects(podIp, 9443), 'no listener before the port exists')

  await h.writeFile('reviews.yaml', withPorts([9443]))
  await eventually(() => h.log.filter((r) => r.event === 'inbound_listening' && r.port === 9443).length === 2)
  t.ok(await connects(podIp, 9443), 'the new port is served on the pod IP')
  t.equal((await h.request()).status, 200, 'the HTTP port still serves')

  // Someone else holds 9444 on reviews-v1's pod IP.
  const squatter = net.createServer()
  await new Promise<void>((resolve) => squatter.listen(9444, podIp, resolve))
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())))
  await h.writeFile('reviews.yaml', withPorts([9443, 9444]))
  const failed = await h.log.waitFor((r) => r.event === 'inbound_listen_failed' && r.port === 9444)
  t.match(failed.err, new RegExp(`${podIp.replace(/\./g, '\\.')}:9444`), 'the error names the address')
  t.equal((await h.request()).status, 200, 'the other ports keep serving')

  await h.writeFile('reviews.yaml', FILES['reviews.yaml']!)
  await eventually(() => h.log.filter((r) => r.event === 'inbound_listener_removed' && r.port === 9443).length === 2)
  await eventually(async () => !(await connects(podIp, 9443)))
  t.pass('the removed port no longer accepts')
})
