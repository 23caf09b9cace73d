// The reference L7 hop of `bench:waypoint` as a bench worker process (l7-reference-proxy.ts).
import { serveWorker } from './ipc.js'
import { startL7Reference } from './l7-reference-proxy.js'
import type { L7ReferenceConfig } from './l7-reference-proxy.js'

// Read-only (and already true) under --no-deprecation, which the proxies' flags carry.
if (!process.noDeprecation) process.noDeprecation = true

serveWorker<L7ReferenceConfig>(startL7Reference)
