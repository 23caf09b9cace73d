// A plain Node TCP relay, the baseline HBONE is compared with: one listener per target, each accepted
// socket connected to its target and joined with the project's one pipe (src/net/pipe.ts), so that
// the only difference from the HBONE pair is the tunnel itself.
import { connectTcp } from '../../net/listen.js'
import { pipe, reset } from '../../net/pipe.js'
import { serveWorker } from './ipc.js'
import { relayListeners } from './relay-listeners.js'

export interface TcpRelayConfig {
  targets: { host: string; port: number }[]
}

serveWorker<TcpRelayConfig>((config) =>
  relayListeners(config.targets, (downstream, target, track) => {
    connectTcp({ host: target.host, port: target.port, connectTimeoutMs: 5000 }).then(
      (upstream) => {
        track(upstream)
        void pipe(downstream, upstream).done
      },
      () => reset(downstream),
    )
  }),
)
