// `ambient app --container IMAGE=PORTS...`: one pod's containers as built-in sample apps (internal:
// the cluster runner starts one per pod). Reads the pod's environment as a container would:
// POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT, POD_LOCAL_IP (where to bind) and ALL_PROXY (capture).
import { AmbientError } from '../../errors.js'
import { parseContainerArg, socksProxyFromUrl, startPodApps } from '../../cluster/pod-app.js'
import { parseCommandArgs } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'

const USAGE =
  'ambient app --container IMAGE=PORT[,PORT] [--container ...]   (env: POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT, POD_LOCAL_IP, ALL_PROXY)'

/** How often an app checks that the runner that started it is still there. */
const PARENT_CHECK_MS = 1_000

export const appCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, { container: { type: 'string', multiple: true } }, USAGE)
  const env = (name: string): string => {
    const v = io.env[name]
    if (v === undefined || v === '') throw new AmbientError('CLI_USAGE', `${name} is not set\nusage: ${USAGE}`, { side: 'config' })
    return v
  }
  const containers = (values.container ?? []).map((c) => {
    try {
      return parseContainerArg(c)
    } catch (err) {
      throw new AmbientError('CLI_USAGE', `${(err as Error).message}\nusage: ${USAGE}`, { side: 'config' })
    }
  })
  const apps = await startPodApps({
    pod: { name: env('POD_NAME'), namespace: env('POD_NAMESPACE'), serviceAccount: io.env.SERVICE_ACCOUNT ?? 'default' },
    host: env('POD_LOCAL_IP'),
    containers,
    proxy: socksProxyFromUrl(io.env.ALL_PROXY),
  })
  io.stdout(
    `app ${io.env.POD_NAMESPACE}/${io.env.POD_NAME}: ${apps.listening.length === 0 ? 'idle (nothing listens)' : `listening on ${apps.listening.join(', ')}`}\n`,
  )
  // An orphaned pod (its runner was SIGKILLed) stops by itself rather than holding its address.
  const parent = process.ppid
  let orphaned: () => void = () => undefined
  const orphan = new Promise<string>((resolve) => {
    orphaned = () => resolve('orphaned')
  })
  // Not unref'd: it also keeps an idle pod (curl, sleep: nothing listens) alive, as `sleep infinity` does.
  const timer = setInterval(() => {
    if (process.ppid !== parent) orphaned()
  }, PARENT_CHECK_MS)
  await Promise.race([io.stopSignal, orphan])
  clearInterval(timer)
  await apps.close()
  return EXIT_OK
}
